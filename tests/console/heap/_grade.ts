/**
 * Grades one leak module end to end, as issue 17 describes: imported into a
 * running service's console session, hooked into `users.lookup` so that
 * every request leaks one more unit, then `heap.leaks()`; the grade is the
 * rank of the row a developer would recognise, as printed, and its size.
 *
 * @module
 */

import type { LeakModule } from "../../fixtures/leaks/catalog.ts";
import type { LeakService } from "./_leak_service.ts";

/** A row of `heap.leaks()` as JSON gives it (older versions have fewer fields). */
export interface GradedRow {
  heldBy: string;
  via?: string[];
  objects?: string;
  className: string;
  count: number;
  retainedSize: number;
  mainObjects?: string;
  mainCount?: number;
  anchorId?: number;
  example: { target: { id: number } };
}

/** How one leak module fared. */
export interface Grade {
  /** The module. */
  module: LeakModule;
  /** Requests sent. */
  requests: number;
  /** Every row, as `heap.leaks(rows)` returned them. */
  rows: GradedRow[];
  /** 1-based rank of the row that names the holder as expected (0: none). */
  rank: number;
  /**
   * 1-based rank of the first row that mentions the holder at all (for
   * versions that print holders otherwise; 0: none).
   */
  mentionRank: number;
  /** The graded row (the expected one, else the first mentioning one). */
  row?: GradedRow;
  /** The row's holder line as printed. */
  printed: string;
}

/**
 * Imports `module`, sets a leak baseline, hooks it into `users.lookup`,
 * sends `requests` requests and reads `heap.leaks(rows)`; the hook is
 * removed afterwards, so the next module starts clean (what this one
 * leaked stays, older than the next baseline).
 *
 * @param service A running service with a console session.
 * @param module The leak module.
 * @param options Requests to send, rows to read, the name to bind.
 * @returns The grade.
 */
export async function gradeModule(
  service: LeakService,
  module: LeakModule,
  options: { requests?: number; rows?: number; alias: string },
): Promise<Grade> {
  const requests = options.requests ?? 200;
  await service.importModule(module.file, options.alias);
  // Options second: older versions took them only there.
  await service.run("heap.leaks(10, { reset: true }); undefined");
  await service.hookLookup(`${options.alias}.${module.hook}`);
  try {
    await service.load(requests);
  } finally {
    await service.unhook();
  }
  const rows = await service.data<GradedRow[]>(
    `heap.leaks(${options.rows ?? 10})`,
  );
  const lines = rows.map(printedHolder);
  const rank = lines.findIndex((l) => module.holder.test(l)) + 1;
  const mentionRank = lines.findIndex((l) => module.mentions.test(l)) + 1;
  const at = rank > 0 ? rank : mentionRank;
  return {
    module,
    requests,
    rows,
    rank,
    mentionRank,
    ...(at > 0 ? { row: rows[at - 1]! } : {}),
    printed: at > 0 ? lines[at - 1]! : "",
  };
}

/**
 * A row's holder as printed: this version prints holder and hops in
 * `heldBy`; older ones printed the holder there and the hops in `via`.
 *
 * @param row A row.
 * @returns The holder line.
 */
export function printedHolder(row: GradedRow): string {
  if (row.mainObjects !== undefined || !row.via?.length) return row.heldBy;
  return [row.heldBy, ...row.via].join(" → ");
}

/**
 * The line of a module's source that contains `text` (1-based).
 *
 * @param file The module's file in `tests/fixtures/leaks/`.
 * @param text What the line contains.
 * @returns The line number.
 */
export async function lineOf(file: string, text: string): Promise<number> {
  const source = await Deno.readTextFile(
    new URL(`../../fixtures/leaks/${file}`, import.meta.url),
  );
  return source.split("\n").findIndex((l) => l.includes(text)) + 1;
}
