/**
 * File checks the tests share: whether a path exists, what a directory
 * holds.
 *
 * @module
 */

/**
 * Whether anything is at `path` (a dangling symlink counts).
 *
 * @param path The path.
 * @returns `true` when `lstat` finds it.
 */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/**
 * The names in a directory, sorted; none when it does not exist.
 *
 * @param path The directory.
 * @returns Its entries' names.
 */
export async function listDir(path: string): Promise<string[]> {
  try {
    return (await Array.fromAsync(Deno.readDir(path))).map((e) => e.name)
      .sort();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
}
