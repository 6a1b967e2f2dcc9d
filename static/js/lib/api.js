// A small fetch wrapper for the JSON API: JSON (or a multipart form) in, JSON out, the CSRF token on
// every change, and an ApiError for any non-2xx answer. Every page calls the API through here.

/** An answer that was not 2xx: `status` and the parsed `body` (null when the body was empty). */
export class ApiError extends Error {
  constructor(status, body, message) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.body = body;
  }
}

/** Give the most useful sentence of an error answer (the contract's error or first field error). */
function messageOf(status, body, fallback) {
  if (body && body.error && body.error.message) return body.error.message;
  if (body && Array.isArray(body.errors) && body.errors.length) return body.errors[0].message;
  return `${status} ${fallback}`.trim();
}

/** Give the page's CSRF token (base.html puts it in <meta name="csrf-token">). */
export function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

/**
 * Give the parsed JSON answer of `method url`; throw ApiError otherwise. `body` goes as JSON, or as
 * it is when it is a FormData (multipart: the browser sets the Content-Type with its boundary).
 */
export async function api(method, url, body, { signal } = {}) {
  const init = { method, headers: { Accept: "application/json" }, credentials: "same-origin", signal };
  // A signed-in browser proves a change comes from this page with the CSRF token the page carries.
  if (method !== "GET" && method !== "HEAD") init.headers["X-CSRFToken"] = csrfToken();
  if (body instanceof FormData) {
    init.body = body;
  } else if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(url, init);
  const text = await response.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      // A proxy's HTML error page, say: keep a short piece of it as the message.
      data = { error: { message: text.slice(0, 200) } };
    }
  }
  if (!response.ok) throw new ApiError(response.status, data, messageOf(response.status, data, response.statusText));
  return data;
}

/** Give the JSON answer of a GET. */
export const getJSON = (url, options) => api("GET", url, undefined, options);

/** Give the JSON answer of a POST of `body`. */
export const postJSON = (url, body, options) => api("POST", url, body, options);

/** Give the JSON answer of a multipart POST of the FormData `form` (a file upload). */
export const postForm = (url, form, options) => api("POST", url, form, options);

/**
 * Give a function that adds a share link's token to a URL (?share=TOKEN or &share=TOKEN), so a
 * share visitor's requests open the shared run's read-only calls; without a token, URLs stay as they are.
 */
export function sharing(token) {
  return (url) => (token ? `${url}${url.includes("?") ? "&" : "?"}share=${encodeURIComponent(token)}` : url);
}
