// The login page: what anyone without a session sees at any dashboard path.
// Plain HTML with no script and no data, so a wrong or missing token shows
// nothing but this form.

export function loginPage(options: { next: string; message?: string }): string {
  const message = options.message
    ? `<p class="error" role="alert">${escapeHtml(options.message)}</p>`
    : '';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>Nudge — sign in</title>
<style>
  body { font: 16px/1.5 system-ui, sans-serif; margin: 0; display: grid; place-items: center; min-height: 100vh; }
  main { width: min(26rem, 100% - 2rem); }
  h1 { font-size: 1.4rem; margin: 0 0 .5rem; }
  label { display: block; margin: 1rem 0 .25rem; font-weight: 600; }
  input { width: 100%; box-sizing: border-box; font: inherit; padding: .5rem; }
  button { margin-top: 1rem; font: inherit; padding: .5rem 1rem; }
  .error { color: #b42318; }
  p.hint { color: GrayText; font-size: .9rem; }
  @media (prefers-color-scheme: dark) { .error { color: #f97066; } }
</style>
</head>
<body>
<main>
  <h1>Nudge dashboard</h1>
  ${message}
  <p>Open the link <code>nudge start</code> or <code>nudge dev</code> printed, or sign in with the dashboard token or an API key of scope <code>dashboard</code>.</p>
  <form method="post" action="/login">
    <input type="hidden" name="next" value="${escapeHtml(options.next)}">
    <label for="token">Dashboard token or API key</label>
    <input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
    <button type="submit">Sign in</button>
  </form>
  <p class="hint">No token at hand? <code>nudge keys create me --scope dashboard</code> makes a key.</p>
</main>
</body>
</html>
`;
}

export function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch]!,
  );
}
