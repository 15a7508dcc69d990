import type { IncomingMessage, ServerResponse } from 'node:http';
import { HttpError } from './http.js';

/**
 * A route table for the dozen admin endpoints. No framework: the paths are fixed, there is one
 * parameter kind (`{name}`, one path segment, percent-decoded), and 404/405 fall out of the
 * table. HEAD is answered wherever GET is (Node drops the body).
 */

export type Method = 'GET' | 'DELETE';

/** Who may call a route: the token in the header, also in `?access_token=`, or anyone. */
export type Access = 'token' | 'token-or-query' | 'public';

export interface Context {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  params: Record<string, string>;
}

export interface Route {
  method: Method;
  /** `/api/v1/clients/{domain}` style. */
  path: string;
  access: Access;
  handle(ctx: Context): void | Promise<void>;
}

interface Compiled {
  route: Route;
  segments: string[];
}

export interface Match {
  route: Route;
  params: Record<string, string>;
}

export class Router {
  private readonly compiled: Compiled[] = [];

  add(...routes: Route[]): this {
    for (const route of routes) {
      this.compiled.push({ route, segments: route.path.split('/') });
    }
    return this;
  }

  get routes(): readonly Route[] {
    return this.compiled.map((c) => c.route);
  }

  /** The route for `method` and `pathname`; throws 404 or 405 (with `Allow`). */
  match(method: string, pathname: string): Match {
    const want = method === 'HEAD' ? 'GET' : method;
    const parts = pathname.split('/');
    const allowed = new Set<string>();
    for (const c of this.compiled) {
      const params = matchSegments(c.segments, parts);
      if (params === null) continue;
      if (c.route.method === want) return { route: c.route, params };
      allowed.add(c.route.method);
      if (c.route.method === 'GET') allowed.add('HEAD');
    }
    if (allowed.size === 0) throw new HttpError(404, 'not_found', `no endpoint at ${pathname}`);
    const allow = [...allowed].sort().join(', ');
    throw new HttpError(405, 'method_not_allowed', `${method} is not allowed here (allowed: ${allow})`, {
      allow,
    });
  }
}

function matchSegments(pattern: string[], parts: string[]): Record<string, string> | null {
  if (pattern.length !== parts.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i];
    if (p.startsWith('{') && p.endsWith('}')) {
      if (parts[i] === '') return null;
      params[p.slice(1, -1)] = decodeSegment(parts[i]);
    } else if (p !== parts[i]) {
      return null;
    }
  }
  return params;
}

function decodeSegment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new HttpError(400, 'bad_request', 'the path holds invalid percent-encoding');
  }
}
