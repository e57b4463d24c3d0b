// The console's one way to the server: the API key rides in the Authorization header
// only (never in a URL), and lives in sessionStorage: for this tab, until it closes.

const KEY = 'evident.apiKey';

export class ApiError extends Error {
  constructor(status, title, detail) {
    super(detail || title || `HTTP ${status}`);
    this.status = status;
    this.title = title;
    this.detail = detail;
  }
}

export const session = {
  get key() {
    return sessionStorage.getItem(KEY);
  },
  set key(value) {
    if (value) sessionStorage.setItem(KEY, value);
    else sessionStorage.removeItem(KEY);
  },
  who: null,
};

function url(path, query) {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== '') params.set(name, value);
  }
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

/** Calls the API; answers parsed JSON (or the Response with `raw`), throws ApiError. */
export async function api(path, { method = 'GET', query, body, raw = false } = {}) {
  const headers = {};
  if (session.key) headers.Authorization = `Bearer ${session.key}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let response;
  try {
    response = await fetch(url(path, query), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'omit',
      cache: 'no-store',
    });
  } catch (e) {
    throw new ApiError(0, 'Unreachable', `the server could not be reached (${e.message})`);
  }
  if (!response.ok) {
    let problem = {};
    try {
      problem = await response.json();
    } catch {
      // not problem+json
    }
    throw new ApiError(response.status, problem.title, problem.detail);
  }
  if (raw) return response;
  return response.json();
}

/** The roles a page needs, by the names the server uses. */
export const READERS = ['auditor', 'approver', 'privacy', 'admin'];

export function may(roles) {
  return Boolean(session.who && roles.includes(session.who.role));
}
