// Tests that roll a transaction back by throwing: the rollback they meant is
// swallowed, and anything else (a failed expect inside, a database error) is
// rethrown, so it fails the test instead of passing as "rolled back".

/** A `.catch` handler that ignores only the error with this message. */
export function onlyRollback(message: string): (error: unknown) => void {
  return (error) => {
    if (!(error instanceof Error) || error.message !== message) throw error;
  };
}
