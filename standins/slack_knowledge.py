"""Files, canvases, people, and message search in FakeSlack.

Mixed into ``FakeSlack``, whose lock, messages and conversations (``slack_access.py``) these
methods use: what the knowledge features read (``files.info``, ``url_private`` downloads that need
a token with ``files:read``, a channel's canvas, ``users.info`` with the email only for
``users:read.email``, ``search.messages`` with user tokens, over what their user can see).
"""
import copy
import math
from urllib.parse import quote, urlsplit

try:
    from .slack_limits import error
except ImportError:  # imported as a top-level module
    from slack_limits import error


class KnowledgeMethods:
    def add_file(self, name, content: bytes, mimetype="text/plain", filetype="text"):
        """A file as Slack describes it in a message's ``files``; its ``url_private``
        needs the bot token, like Slack's (without it Slack answers a login page)."""
        with self._lock:
            file_id = f"F{len(self._files) + 1:08d}"
        path = f"/files-pri/{self.team_id}-{file_id}/{quote(name)}"
        with self._lock:
            self._files[path] = (mimetype, content)
        url = f"http://127.0.0.1:{self.port}{path}"
        with self._lock:
            self._file_meta[file_id] = meta = {"id": file_id, "name": name, "title": name, "mimetype": mimetype, "filetype": filetype,
                "size": len(content), "url_private": url, "url_private_download": url + "?download=1",
                "mode": "hosted", "is_external": False}
        return meta

    def redirect_file(self, file, location):
        """The file's url_private answers 302 to ``location`` (a CDN, or somewhere it must not go)."""
        with self._lock:
            self._file_redirects[urlsplit(file["url_private"]).path] = location

    def add_canvas(self, channel, title, html):
        """A channel canvas: a file of filetype ``quip`` whose url_private serves HTML, linked
        from ``conversations.info`` as ``properties.canvas.file_id``."""
        meta = self.add_file(title, html.encode("utf-8"), mimetype="text/html", filetype="quip")
        meta.update(mimetype="application/vnd.slack-docs", mode="quip", pretty_type="Canvas")
        self.set_channel(channel, canvas=meta["id"])
        return meta

    def set_user(self, user, email):
        with self._lock:
            self._users[user] = email

    def permalink(self, channel, ts, thread_ts=None):
        link = f"https://fake-team.slack.com/archives/{channel}/p{ts.replace('.', '')}"
        return link + (f"?thread_ts={thread_ts}&cid={channel}" if thread_ts and thread_ts != ts else "")

    def _serve_get(self, req):
        if req.path.startswith("/files-pri/"):
            self._serve_file(req)
        else:
            self._serve(req)

    def _serve_file(self, req):
        path = urlsplit(req.path).path
        auth = req.headers.get("Authorization", "")
        with self._lock:
            token = auth[len("Bearer "):] if auth.startswith("Bearer ") else None
            # Without files:read Slack answers the same sign-in page as without a token.
            authorized = (token is not None and (self._is_bot_token(token) or token in self.user_tokens)
                          and "files:read" in self._scopes_of(token))
            self.file_downloads.append((path, authorized))
            found = self._files.get(path)
            redirect = self._file_redirects.get(path)
        if redirect:
            req.send_response(302)
            req.send_header("Location", redirect)
            req.send_header("Content-Length", "0")
            req.end_headers()
            return
        if found and authorized:
            mimetype, body = found
        else:
            mimetype, body = "text/html; charset=utf-8", b"<!DOCTYPE html><html><body>Sign in to Slack</body></html>"
        req.send_response(200 if found or not authorized else 404)
        req.send_header("Content-Type", mimetype)
        req.send_header("Content-Length", str(len(body)))
        req.end_headers()
        req.wfile.write(body)


    def _users_info(self, params):
        user = params.get("user")
        if not user:
            return error("user_not_found")
        profile = {"real_name": user, "display_name": user}
        if user in self._users and "users:read.email" in self._scopes_of(self._caller):
            profile["email"] = self._users[user]
        return {"ok": True, "user": {"id": user, "name": user.lower(), "deleted": False, "is_bot": False,
                                     **self._person_fields(user), "profile": profile}}

    def _files_info(self, params):
        meta = self._file_meta.get(params.get("file", ""))
        if meta is None:
            return error("file_not_found")
        return {"ok": True, "file": copy.deepcopy(meta), "comments": [], "response_metadata": {"next_cursor": ""}}

    def _search_messages(self, params):
        searcher = self._caller_user()
        words = [w.lower() for w in str(params.get("query", "")).split() if w]
        if not words:
            return error("no_query")
        count = min(100, int(params.get("count") or 20))
        matches = []
        for channel, msgs in self._channels.items():
            if not self._can_see(channel, searcher):  # Slack searches what its user can see
                continue
            for msg in msgs:
                text = msg.get("text") or ""
                if msg.get("bot_id") or not all(w in text.lower() for w in words):
                    continue
                obj = self._channel_object(channel)
                matches.append({"iid": f"i{len(matches)}", "team": self.team_id, "type": "message",
                                "channel": {k: obj[k] for k in ("id", "name", "is_channel", "is_group", "is_im",
                                                                "is_mpim", "is_private", "is_shared",
                                                                "is_ext_shared", "is_org_shared")},
                                "user": msg.get("user"), "username": (msg.get("user") or "").lower(),
                                "ts": msg["ts"], "text": text,
                                "permalink": self.permalink(channel, msg["ts"], msg.get("thread_ts"))})
        page = matches[:count]
        return {"ok": True, "query": params.get("query"),
                "messages": {"total": len(matches), "matches": page,
                             "paging": {"count": count, "total": len(matches), "page": 1,
                                        "pages": max(1, math.ceil(len(matches) / count))},
                             "pagination": {"total_count": len(matches), "page": 1, "per_page": count,
                                            "page_count": 1, "first": 1, "last": len(page)}}}

