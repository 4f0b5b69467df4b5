// api.js: the REST client of the app and where the session token lives.

import { TOKEN_KEY } from './boot.js';

/** An API error with the server's detail and, when given, the field. */
export class APIError extends Error {
  /** @param {number} status @param {{detail?:string,code?:string,field?:string}} body */
  constructor(status, body) {
    super(body.detail || `HTTP ${status}`);
    this.status = status;
    this.code = body.code || '';
    this.field = body.field || '';
  }
}

/** The session: the token, kept in localStorage ("Keep me signed in") or sessionStorage. */
export const session = {
  get token() {
    return localStorage.getItem(TOKEN_KEY) || sessionStorage.getItem(TOKEN_KEY) || '';
  },
  /** @param {string} token @param {boolean} keep */
  save(token, keep) {
    this.clear();
    (keep ? localStorage : sessionStorage).setItem(TOKEN_KEY, token);
  },
  clear() {
    localStorage.removeItem(TOKEN_KEY);
    sessionStorage.removeItem(TOKEN_KEY);
  },
};

/** Called when the server says the token is no longer valid. */
let onUnauthorized = (/** @type {string} */ _detail) => {};
/** @param {(detail:string)=>void} f */
export function setUnauthorizedHandler(f) { onUnauthorized = f; }

/**
 * request calls the API and decodes the JSON answer.
 * @param {string} method @param {string} path @param {any} [body]
 */
export async function request(method, path, body) {
  /** @type {Record<string,string>} */
  const headers = { Accept: 'application/json' };
  const token = session.token;
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  return decode(fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) }), path, token);
}

/**
 * decode turns a response into its JSON, or throws an APIError with the
 * server's detail (a 401 for a token sent ends the session).
 * @param {Promise<Response>} pending @param {string} path @param {string} token
 */
export async function decode(pending, path, token) {
  const resp = await pending;
  if (resp.status === 204) return null;
  let data = null;
  try { data = await resp.json(); } catch { data = null; }
  if (!resp.ok) {
    const err = new APIError(resp.status, data && typeof data === 'object' ? data : {});
    if (resp.status === 401 && token && !path.startsWith('/api/auth/login')) onUnauthorized(err.message);
    throw err;
  }
  return data;
}

export const api = {
  register: (/** @type {any} */ b) => request('POST', '/api/auth/register', b),
  login: (/** @type {string} */ username, /** @type {string} */ password) => request('POST', '/api/auth/login', { username, password }),
  me: () => request('GET', '/api/auth/me'),
  logoutAll: () => request('POST', '/api/auth/logout-all'),
  rooms: () => request('GET', '/api/rooms'),
  createRoom: (/** @type {string} */ name) => request('POST', '/api/rooms', { name }),
  getRoom: (/** @type {number} */ id) => request('GET', `/api/rooms/${id}`),
  renameRoom: (/** @type {number} */ id, /** @type {string} */ name) => request('PATCH', `/api/rooms/${id}`, { name }),
  deleteRoom: (/** @type {number} */ id) => request('DELETE', `/api/rooms/${id}`),
  members: (/** @type {number} */ id) => request('GET', `/api/rooms/${id}/members`),
  addMember: (/** @type {number} */ id, /** @type {string} */ username) => request('POST', `/api/rooms/${id}/members`, { username }),
  removeMember: (/** @type {number} */ id, /** @type {number} */ userID) => request('DELETE', `/api/rooms/${id}/members/${userID}`),
  /** @param {number} id @param {Record<string,number>} q */
  messages: (id, q) => request('GET', `/api/rooms/${id}/messages?` + new URLSearchParams(/** @type {any} */ (q))),
  roles: () => request('GET', '/api/roles'),
  createRole: (/** @type {any} */ b) => request('POST', '/api/roles', b),
  updateRole: (/** @type {number} */ id, /** @type {any} */ b) => request('PATCH', `/api/roles/${id}`, b),
  deleteRole: (/** @type {number} */ id) => request('DELETE', `/api/roles/${id}`),
  roomRoles: (/** @type {number} */ id) => request('GET', `/api/rooms/${id}/roles`),
  seatRole: (/** @type {number} */ id, /** @type {number} */ roleID) => request('POST', `/api/rooms/${id}/roles`, { role_id: roleID }),
  unseatRole: (/** @type {number} */ id, /** @type {number} */ roleID) => request('DELETE', `/api/rooms/${id}/roles/${roleID}`),
  models: () => request('GET', '/api/llm/models'),
  keys: () => request('GET', '/api/keys'),
  addKey: (/** @type {any} */ b) => request('POST', '/api/keys', b),
  deleteKey: (/** @type {number} */ id) => request('DELETE', `/api/keys/${id}`),
  usage: () => request('GET', '/api/usage'),
  rtcConfig: () => request('GET', '/api/rtc/config'),
  meetings: (/** @type {number} */ id) => request('GET', `/api/rooms/${id}/meetings`),
  startMeeting: (/** @type {number} */ id, /** @type {any} */ b) => request('POST', `/api/rooms/${id}/meetings`, b),
  stopMeeting: (/** @type {number} */ id, /** @type {number} */ mid) => request('POST', `/api/rooms/${id}/meetings/${mid}/stop`),
};
