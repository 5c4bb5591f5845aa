/** @module http/cookie The name of the session cookie, shared by the API plugin and routes. */
export const SESSION_COOKIE = 'tidings_session';
