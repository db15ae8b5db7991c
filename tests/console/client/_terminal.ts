/**
 * A tiny terminal emulator for tests of the interactive client.
 *
 * @module
 */

/**
 * What a terminal would show for `text`: the few control sequences readline
 * and the client use (carriage return, cursor column and movement, erase to
 * the end of the line or screen) applied to a grid of lines; colours and
 * other sequences are dropped.
 *
 * @param text What was written to the terminal.
 * @returns The lines on screen, joined with newlines.
 */
export function screenOf(text: string): string {
  const lines: string[] = [""];
  let row = 0;
  let column = 0;
  const put = (char: string) => {
    const line = lines[row]!.padEnd(column);
    lines[row] = line.slice(0, column) + char + line.slice(column + 1);
    column++;
  };
  // deno-lint-ignore no-control-regex
  const tokens = text.match(/\x1b\[\??[\d;]*[A-Za-z]|[\s\S]/g) ?? [];
  for (const token of tokens) {
    // deno-lint-ignore no-control-regex
    const escape = token.match(/^\x1b\[\??([\d;]*)([A-Za-z])$/);
    if (escape) {
      const n = Number(escape[1] || "1");
      switch (escape[2]) {
        case "G":
          column = n - 1;
          break;
        case "K":
          lines[row] = lines[row]!.slice(0, column);
          break;
        case "J":
          lines[row] = lines[row]!.slice(0, column);
          lines.length = row + 1;
          break;
        case "A":
          row = Math.max(0, row - n);
          break;
        case "B":
          row += n;
          break;
        case "C":
          column += n;
          break;
        case "D":
          column = Math.max(0, column - n);
      }
      while (lines.length <= row) lines.push("");
    } else if (token === "\r") {
      column = 0;
    } else if (token === "\n") {
      row++;
      column = 0; // a terminal's output processing turns \n into \r\n
      while (lines.length <= row) lines.push("");
    } else {
      put(token);
    }
  }
  return lines.join("\n");
}
