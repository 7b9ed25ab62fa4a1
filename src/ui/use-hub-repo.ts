// A hub repo's file list, asked of the worker (the hub's tree API) when the user names a repo, after
// a pause in typing, so the panel shows the repo's GGUF files and the plan before any download. One
// request per repo and mirror: the Download button and the panel share it.

import { useEffect, useState } from 'react';
import type { HubFileList } from '../protocol/messages.ts';
import type { EngineClient } from '../worker/client.ts';

export type RepoListing =
  | { status: 'idle' }
  | { status: 'listing'; repo: string }
  | { status: 'ready'; repo: string; list: HubFileList }
  | { status: 'error'; repo: string; message: string };

/** Typing pauses this long before a repo is listed. */
const TYPING_MS = 400;

const listed = new Map<string, Promise<HubFileList>>();

/** The repo's files; a failed listing is forgotten, so asking again retries. */
export function listHubRepo(engine: EngineClient, repo: string, hubBase: string): Promise<HubFileList> {
  const key = `${hubBase}\n${repo}`;
  let p = listed.get(key);
  if (!p) {
    p = engine.request<'listHubFiles'>({ kind: 'listHubFiles', repo, hubBase });
    p.catch(() => listed.delete(key));
    listed.set(key, p);
  }
  return p;
}

/** The listing of `repo` (null: none asked for). */
export function useHubRepo(engine: EngineClient | null, repo: string | null, hubBase: string): RepoListing {
  const [state, setListing] = useState<{ key: string; listing: RepoListing }>({ key: '', listing: { status: 'idle' } });
  useEffect(() => {
    if (!engine || !repo) return;
    let current = true;
    const key = `${hubBase}\n${repo}`;
    const timer = setTimeout(() => {
      listHubRepo(engine, repo, hubBase).then(
        (list) => current && setListing({ key, listing: { status: 'ready', repo, list } }),
        (e: unknown) => current && setListing({ key, listing: { status: 'error', repo, message: (e as Error).message } }),
      );
    }, TYPING_MS);
    return () => {
      current = false;
      clearTimeout(timer);
    };
  }, [engine, repo, hubBase]);
  if (!engine || !repo) return { status: 'idle' };
  // Until this repo's answer comes, an earlier repo's is not shown as this one's.
  return state.key === `${hubBase}\n${repo}` ? state.listing : { status: 'listing', repo };
}
