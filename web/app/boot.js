// boot.js: the first script the page runs. index.html loads it as an async
// module with no imports, so it starts before the rest of the app is parsed
// and compiled: it sends the first screen's requests at once (the user, the
// rooms and, on a room link, the room's newest messages). main.js takes the
// answers with takeBoot(); on a warm reload they are usually back before the
// app is ready to show them.

/** PAGE is how many messages a page of history holds. */
export const PAGE = 50;

export const TOKEN_KEY = 'vc.token';

/** @typedef {{path:string, p:Promise<Response>}} Early */
/** @typedef {{token:string, me:Early, rooms:Early, room:(Early & {id:number})|null}} Boot */

/** @param {string} path @param {string} token @returns {Early} */
function get(path, token) {
  const p = fetch(path, { headers: { Accept: 'application/json', Authorization: `Bearer ${token}` } });
  p.catch(() => {}); // whoever takes it reports the error
  return { path, p };
}

/** @returns {Boot|null} */
function start() {
  const token = localStorage.getItem(TOKEN_KEY) || sessionStorage.getItem(TOKEN_KEY) || '';
  if (!token) return null;
  const m = /^\/rooms\/(\d+)\/?$/.exec(location.pathname);
  return {
    token,
    me: get('/api/auth/me', token),
    rooms: get('/api/rooms', token),
    room: m ? { id: Number(m[1]), ...get(`/api/rooms/${m[1]}/messages?limit=${PAGE}`, token) } : null,
  };
}

/** @type {Boot|null} */
let boot = start();

/** takeBoot returns the early requests once, if they were made with token. @param {string} token */
export function takeBoot(token) {
  const b = boot;
  boot = null;
  return b && b.token === token ? b : null;
}
