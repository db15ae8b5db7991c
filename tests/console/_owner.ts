/**
 * For tests of ownership checks: another user's id, and whether this
 * process may give files to it.
 *
 * @module
 */

/** A user id that is not ours: `nobody`. */
export const OTHER_UID = 65534;

/**
 * Whether this process may give files to another user: the ownership tests
 * need root (CI runs as root); elsewhere they are skipped, saying why once.
 */
export const CAN_CHOWN: boolean = (() => {
  try {
    return Deno.uid() === 0;
  } catch {
    return false;
  }
})();

if (!CAN_CHOWN) {
  console.warn(
    "not root: files cannot be given to another user, so the tests marked (needs root) are skipped",
  );
}
