"""A small Azure AI Search REST service on 127.0.0.1 for tests: the real azure-search-documents SDK talks to it.

Implements the operations the backend uses, in the URL forms and JSON shapes of the REST API the SDK sends
(`/indexes('name')?api-version=...`):

- PUT/GET/DELETE /indexes('name')                    create or update / read / delete an index definition
- POST /indexes('name')/docs/search.index            upload, merge, mergeOrUpload, delete (200, or 207 per item)
- POST /indexes('name')/docs/search.post.search      search text (BM25), vectorQueries (exact cosine kNN),
                                                     both fused by reciprocal rank (k=60), filter, select,
                                                     orderby, top/skip (pages of 1000), count, semantic
- GET  /indexes('name')/docs/$count

It checks what a real service checks where a mistake would otherwise pass silently: the api-version, the
api-key or bearer token, one string key field, vector dimensions and the HNSW profile/algorithm they name,
unchangeable existing fields, semantic fields that exist, unknown document fields, vector lengths, key
characters, filters only on filterable fields (OData subset: eq/ne/gt/ge/lt/le, and/or/not, parentheses,
`coll/any(x: x eq '...')`, `search.in(field, 'a,b')`), select only of retrievable fields, orderby only on
sortable fields, a query key only for search and count. Failures are scripted per operation (`fail_next`) or per document key (`fail_documents`).
Every request is recorded; at most `max_requests` are served (then 400), so a loop cannot run forever.
"""
from __future__ import annotations

import json
import math
import re
import ssl
import threading
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

import numpy as np
from rank_bm25 import BM25Okapi

RRF_K = 60
PAGE = 1000
_KEY = re.compile(r"^[A-Za-z0-9_\-=]+$")
_WORD = re.compile(r"\w+")
_ROUTES = [
    ("index", "PUT", re.compile(r"^/indexes\('([^']+)'\)$")),
    ("get_index", "GET", re.compile(r"^/indexes\('([^']+)'\)$")),
    ("delete_index", "DELETE", re.compile(r"^/indexes\('([^']+)'\)$")),
    ("documents", "POST", re.compile(r"^/indexes\('([^']+)'\)/docs/search\.index$")),
    ("search", "POST", re.compile(r"^/indexes\('([^']+)'\)/docs/search\.post\.search$")),
    ("count", "GET", re.compile(r"^/indexes\('([^']+)'\)/docs/\$count$")),
]
TYPES = {"Edm.String", "Edm.Int32", "Edm.Int64", "Edm.Double", "Edm.Boolean", "Edm.DateTimeOffset",
         "Collection(Edm.String)", "Collection(Edm.Int32)", "Collection(Edm.Single)"}


class BadRequest(Exception):
    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text or "")]


# -- OData filter subset --------------------------------------------------------------------------------------

_TOKEN = re.compile(r"\s*(?:('(?:[^']|'')*')|(-?\d+(?:\.\d+)?)|([A-Za-z_][A-Za-z0-9_.]*)|(\S))")


def _tokens(text: str) -> list[tuple[str, object]]:
    out, position = [], 0
    text = text.strip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match:
            raise BadRequest(f"Invalid expression: cannot read the filter at {position}")
        string, number, name, symbol = match.groups()
        if string is not None:
            out.append(("str", string[1:-1].replace("''", "'")))
        elif number is not None:
            out.append(("num", float(number) if "." in number else int(number)))
        elif name is not None:
            out.append(("name", name))
        else:
            out.append(("sym", symbol))
        position = match.end()
    return out


class FilterParser:
    OPS = {"eq", "ne", "gt", "ge", "lt", "le"}

    def __init__(self, text: str, fields: dict[str, dict]):
        self.tokens = _tokens(text)
        self.i = 0
        self.fields = fields

    def parse(self):
        expression = self.or_()
        if self.i != len(self.tokens):
            raise BadRequest(f"Invalid expression: unexpected {self.tokens[self.i][1]!r}")
        return expression

    def peek(self, kind=None, value=None):
        if self.i >= len(self.tokens):
            return None
        token = self.tokens[self.i]
        if (kind and token[0] != kind) or (value is not None and token[1] != value):
            return None
        return token

    def take(self, kind=None, value=None):
        token = self.peek(kind, value)
        if token is None:
            got = self.tokens[self.i][1] if self.i < len(self.tokens) else "end of filter"
            raise BadRequest(f"Invalid expression: expected {value or kind}, found {got!r}")
        self.i += 1
        return token

    def or_(self):
        parts = [self.and_()]
        while self.peek("name", "or"):
            self.take()
            parts.append(self.and_())
        return parts[0] if len(parts) == 1 else (lambda d, env: any(p(d, env) for p in parts))

    def and_(self):
        parts = [self.unary()]
        while self.peek("name", "and"):
            self.take()
            parts.append(self.unary())
        return parts[0] if len(parts) == 1 else (lambda d, env: all(p(d, env) for p in parts))

    def unary(self):
        if self.peek("name", "not"):
            self.take()
            inner = self.unary()
            return lambda d, env: not inner(d, env)
        if self.peek("sym", "("):
            self.take()
            inner = self.or_()
            self.take("sym", ")")
            return inner
        if self.peek("name", "search.in"):
            return self.search_in()
        return self.comparison_or_any()

    def field(self, name: str, collection: bool | None = None) -> dict:
        spec = self.fields.get(name)
        if spec is None:
            raise BadRequest(f"Invalid expression: Could not find a property named '{name}'")
        if not spec.get("filterable"):
            raise BadRequest(f"Invalid expression: The field '{name}' is not filterable")
        is_collection = spec["type"].startswith("Collection(")
        if collection is not None and is_collection != collection:
            raise BadRequest(f"Invalid expression: '{name}' {'is' if is_collection else 'is not'} a collection")
        return spec

    def search_in(self):
        self.take()
        self.take("sym", "(")
        name = self.take("name")[1]
        self.field(name, collection=False)
        self.take("sym", ",")
        values = self.take("str")[1]
        delimiter = None
        if self.peek("sym", ","):
            self.take()
            delimiter = self.take("str")[1]
        self.take("sym", ")")
        members = {v for v in re.split("[" + re.escape(delimiter) + "]" if delimiter else r"[ ,]", values) if v}
        return lambda d, env: d.get(name) in members

    def operand(self, variables: set[str]):
        kind, value = self.take()
        if kind in ("str", "num"):
            return lambda d, env: value
        if kind == "name" and value in ("true", "false", "null"):
            constant = {"true": True, "false": False, "null": None}[value]
            return lambda d, env: constant
        if kind == "name" and value in variables:
            return lambda d, env: env[value]
        if kind == "name":
            self.field(value, collection=False)
            return lambda d, env: d.get(value)
        raise BadRequest(f"Invalid expression: unexpected {value!r}")

    def comparison_or_any(self, variables: frozenset = frozenset()):
        if self.peek("name") and self.i + 1 < len(self.tokens) and self.tokens[self.i + 1] == ("sym", "/"):
            name = self.take("name")[1]
            self.take("sym", "/")
            quantifier = self.take("name")[1]
            if quantifier not in ("any", "all"):
                raise BadRequest(f"Invalid expression: unknown lambda {quantifier!r}")
            self.field(name, collection=True)
            self.take("sym", "(")
            variable = self.take("name")[1]
            self.take("sym", ":")
            inner = self.lambda_body(variables | {variable})
            self.take("sym", ")")
            pick = any if quantifier == "any" else all
            return lambda d, env: pick(inner(d, {**env, variable: item}) for item in (d.get(name) or []))
        left = self.operand(set(variables))
        op = self.take("name")[1]
        if op not in self.OPS:
            raise BadRequest(f"Invalid expression: unknown operator {op!r}")
        right = self.operand(set(variables))
        return lambda d, env: _compare(op, left(d, env), right(d, env))

    def lambda_body(self, variables: frozenset):
        expression = self.comparison_or_any(variables)
        while self.peek("name", "or") or self.peek("name", "and"):
            joiner = self.take()[1]
            expression = _join(joiner, expression, self.comparison_or_any(variables))
        return expression


def _join(joiner: str, a, b):
    if joiner == "or":
        return lambda d, env: a(d, env) or b(d, env)
    return lambda d, env: a(d, env) and b(d, env)


def _compare(op: str, a, b) -> bool:
    if op == "eq":
        return a == b
    if op == "ne":
        return a != b
    if a is None or b is None:
        return False
    return {"gt": a > b, "ge": a >= b, "lt": a < b, "le": a <= b}[op]


# -- the service ----------------------------------------------------------------------------------------------


class FakeAzureSearch:
    def __init__(self, api_key: str | None = "test-admin-key", tokens: set[str] | None = None,
                 max_requests: int = 3000, ssl_context: ssl.SSLContext | None = None, query_key: str | None = None):
        self.api_key = api_key
        self.query_key = query_key  # may search and count documents, nothing else (as a real query key)
        self.tokens = set(tokens or ())
        self.indexes: dict[str, dict] = {}
        self.requests: list[dict] = []
        self.failures: deque[tuple[str, int, dict]] = deque()
        self.document_failures: dict[str, list] = {}
        self.max_requests = max_requests
        self.lock = threading.RLock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                server.handle(self, "GET")

            def do_PUT(self):
                server.handle(self, "PUT")

            def do_POST(self):
                server.handle(self, "POST")

            def do_DELETE(self):
                server.handle(self, "DELETE")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.scheme = "http"
        if ssl_context is not None:
            self.httpd.socket = ssl_context.wrap_socket(self.httpd.socket, server_side=True)
            self.scheme = "https"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    # lifecycle
    def start(self) -> FakeAzureSearch:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)

    @property
    def endpoint(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.httpd.server_address[1]}"

    # scripting and inspection
    def fail_next(self, operation: str, status: int, retry_after: str | None = None, times: int = 1) -> None:
        """The next `times` requests of an operation (index, get_index, documents, search, count) get `status`."""
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        for _ in range(times):
            self.failures.append((operation, status, headers))

    def fail_documents(self, keys, status: int = 503, times: int = 1) -> None:
        """These document keys fail inside a 207 response `times` times, then succeed."""
        for key in keys:
            self.document_failures[key] = [status, times]

    def calls(self, operation: str) -> list[dict]:
        return [r for r in self.requests if r["operation"] == operation]

    def documents(self, index: str) -> dict[str, dict]:
        return self.indexes[index]["docs"]

    # serving
    def handle(self, h: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(h.path)
        path, params = unquote(parts.path), parse_qs(parts.query)
        length = int(h.headers.get("Content-Length", 0) or 0)
        raw = h.rfile.read(length) if length else b""
        operation, name = None, None
        for kind, verb, pattern in _ROUTES:
            match = pattern.match(path)
            if match and verb == method:
                operation, name = kind, match.group(1)
                break
        try:
            body = json.loads(raw) if raw else None
        except json.JSONDecodeError:
            body = None
        with self.lock:
            over = len(self.requests) >= self.max_requests
            self.requests.append({"operation": operation, "method": method, "path": path, "params": params,
                                  "headers": dict(h.headers), "body": body, "index": name})
            failure = None
            for position, item in enumerate(self.failures):
                if item[0] == operation:
                    failure = item
                    del self.failures[position]
                    break
        try:
            if over:
                raise BadRequest("fake service request limit reached")
            if operation is None:
                raise BadRequest(f"no route {method} {path}", 404)
            if not params.get("api-version"):
                raise BadRequest("The api-version query parameter (?api-version=) is required for all requests")
            self._authorize(h, operation)
            if failure is not None:
                message = {429: "Too many requests", 503: "Service unavailable"}.get(failure[1], "failure")
                return self._json(h, failure[1], {"error": {"code": "", "message": message}}, failure[2])
            with self.lock:
                getattr(self, f"_{operation}")(h, name, body)
        except BadRequest as exc:
            self._json(h, exc.status, {"error": {"code": "", "message": str(exc)}})

    def _authorize(self, h, operation: str) -> None:
        key = h.headers.get("api-key")
        if key is not None and self.query_key is not None and key == self.query_key:
            if operation not in ("search", "count"):
                raise BadRequest("A query key can only search and count documents", 403)
            return
        if key is not None:
            if self.api_key is None or key != self.api_key:
                raise BadRequest("Invalid api-key", 403)
            return
        authorization = h.headers.get("Authorization") or ""
        if authorization.startswith("Bearer ") and authorization[7:] in self.tokens:
            return
        raise BadRequest("Authorization failed: no api-key header and no valid bearer token", 401)

    def _require(self, name: str) -> dict:
        index = self.indexes.get(name)
        if index is None:
            raise BadRequest(f"The index '{name}' for service 'fake' was not found.", 404)
        return index

    # index definitions
    def _index(self, h, name, body) -> None:
        if not isinstance(body, dict) or body.get("name") != name:
            raise BadRequest("The index name in the body must match the name in the URL")
        definition = self._validate_definition(body)
        existing = self.indexes.get(name)
        if existing is not None:
            old = {f["name"]: f for f in existing["definition"]["fields"]}
            new = {f["name"]: f for f in definition["fields"]}
            for field_name, field in old.items():
                if field_name not in new:
                    raise BadRequest(f"Existing field '{field_name}' cannot be removed")
                for attribute in ("type", "key", "dimensions", "searchable", "filterable", "sortable", "facetable"):
                    if bool(field.get(attribute)) != bool(new[field_name].get(attribute)) or (
                        attribute in ("type", "dimensions") and field.get(attribute) != new[field_name].get(attribute)
                    ):
                        raise BadRequest(f"Existing field '{field_name}' cannot be changed ({attribute})")
            existing["definition"] = definition
            existing["etag"] += 1
            status = 200
        else:
            self.indexes[name] = {"definition": definition, "docs": {}, "etag": 1}
            status = 201
        self._json(h, status, self._definition_body(name))

    def _validate_definition(self, body: dict) -> dict:
        fields = body.get("fields") or []
        keys = [f for f in fields if f.get("key")]
        if len(keys) != 1 or keys[0].get("type") != "Edm.String":
            raise BadRequest("An index must have exactly one key field of type Edm.String")
        names = [f.get("name") for f in fields]
        if len(set(names)) != len(names):
            raise BadRequest("Field names must be unique")
        vector_search = body.get("vectorSearch") or {}
        algorithms = {a["name"]: a for a in vector_search.get("algorithms") or []}
        profiles = {p["name"]: p for p in vector_search.get("profiles") or []}
        for algorithm in algorithms.values():
            if algorithm.get("kind") not in ("hnsw", "exhaustiveKnn"):
                raise BadRequest(f"Unknown vector algorithm kind {algorithm.get('kind')!r}")
            metric = (algorithm.get("hnswParameters") or algorithm.get("exhaustiveKnnParameters") or {}).get("metric")
            if metric not in ("cosine", "euclidean", "dotProduct", "hamming"):
                raise BadRequest(f"Unknown vector metric {metric!r}")
        for profile in profiles.values():
            if profile.get("algorithm") not in algorithms:
                raise BadRequest(f"Vector profile '{profile['name']}' names an unknown algorithm")
        for field in fields:
            if field.get("type") not in TYPES:
                raise BadRequest(f"Field '{field.get('name')}' has an unsupported type {field.get('type')!r}")
            if field["type"] == "Collection(Edm.Single)":
                dimensions = field.get("dimensions")
                if not isinstance(dimensions, int) or not 2 <= dimensions <= 4096:
                    raise BadRequest(f"Vector field '{field['name']}' needs dimensions between 2 and 4096")
                if field.get("vectorSearchProfile") not in profiles:
                    raise BadRequest(f"Vector field '{field['name']}' names an unknown vector search profile")
                if not field.get("searchable"):
                    raise BadRequest(f"Vector field '{field['name']}' must be searchable")
            for analyzer in ("analyzer", "searchAnalyzer", "indexAnalyzer"):
                value = field.get(analyzer)
                if value and not (value.endswith((".microsoft", ".lucene")) or value in ("standard.lucene", "keyword")):
                    raise BadRequest(f"Unknown analyzer {value!r}")
        by_name = {f["name"]: f for f in fields}
        for configuration in (body.get("semantic") or {}).get("configurations") or []:
            prioritized = configuration.get("prioritizedFields") or {}
            referenced = [(prioritized.get("titleField") or {}).get("fieldName")]
            referenced += [f.get("fieldName") for f in prioritized.get("prioritizedContentFields") or []]
            referenced += [f.get("fieldName") for f in prioritized.get("prioritizedKeywordsFields") or []]
            for field_name in filter(None, referenced):
                if by_name.get(field_name, {}).get("type") not in ("Edm.String", "Collection(Edm.String)"):
                    raise BadRequest(f"Semantic configuration names '{field_name}', not a string field")
        for field in fields:  # defaults the service fills in
            field.setdefault("retrievable", True)
        return body

    def _definition_body(self, name: str) -> dict:
        index = self.indexes[name]
        return {"@odata.context": "fake", "@odata.etag": f'"0x{index["etag"]:x}"', **index["definition"]}

    def _get_index(self, h, name, body) -> None:
        self._require(name)
        self._json(h, 200, self._definition_body(name))

    def _delete_index(self, h, name, body) -> None:
        if self.indexes.pop(name, None) is None:
            raise BadRequest(f"The index '{name}' for service 'fake' was not found.", 404)
        h.send_response(204)
        h.send_header("Content-Length", "0")
        h.end_headers()

    def _count(self, h, name, body) -> None:
        data = str(len(self._require(name)["docs"])).encode()
        h.send_response(200)
        h.send_header("Content-Type", "text/plain")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    # documents
    def _documents(self, h, name, body) -> None:
        index = self._require(name)
        fields = {f["name"]: f for f in index["definition"]["fields"]}
        key_field = next(f["name"] for f in fields.values() if f.get("key"))
        actions = (body or {}).get("value")
        if not isinstance(actions, list) or not actions:
            raise BadRequest("The request must have a non-empty 'value' array of actions")
        if len(actions) > 1000:
            raise BadRequest("A batch may hold at most 1000 actions")
        for action in actions:  # whole-request validation, as the service does before indexing anything
            kind = action.get("@search.action", "upload")
            if kind not in ("upload", "merge", "mergeOrUpload", "delete"):
                raise BadRequest(f"Unknown @search.action {kind!r}")
            for field_name, value in action.items():
                if field_name == "@search.action":
                    continue
                spec = fields.get(field_name)
                if spec is None:
                    raise BadRequest(f"The property '{field_name}' does not exist on type 'search.documentFields'")
                if kind != "delete":
                    _check_value(spec, value)
        results = []
        for action in actions:
            kind = action.get("@search.action", "upload")
            key = action.get(key_field)
            document = {k: v for k, v in action.items() if k != "@search.action"}
            scripted = self.document_failures.get(key)
            if scripted and scripted[1] > 0:
                scripted[1] -= 1
                results.append(_result(key, False, scripted[0], "Service unavailable; retry the document"))
                continue
            if not isinstance(key, str) or not _KEY.match(key):
                results.append(_result(key, False, 400, f"Invalid document key: '{key}'"))
                continue
            exists = key in index["docs"]
            if kind == "delete":
                index["docs"].pop(key, None)
                results.append(_result(key, True, 200))
            elif kind == "upload" or (kind == "mergeOrUpload" and not exists):
                index["docs"][key] = document
                results.append(_result(key, True, 200 if exists else 201))
            elif not exists:
                results.append(_result(key, False, 404, f"Document not found: '{key}'"))
            else:
                index["docs"][key].update(document)
                results.append(_result(key, True, 200))
        status = 200 if all(r["status"] for r in results) else 207
        self._json(h, status, {"value": results})

    # search
    def _search(self, h, name, body) -> None:
        index = self._require(name)
        definition = index["definition"]
        fields = {f["name"]: f for f in definition["fields"]}
        body = body or {}
        docs = list(index["docs"].values())
        if body.get("filter"):
            keep = FilterParser(body["filter"], fields).parse()
            docs = [d for d in docs if keep(d, {})]
        text = (body.get("search") or "").strip()
        rankings: list[list[tuple[str, float]]] = []
        vector_similarity: dict[str, float] = {}
        if text and text != "*":
            rankings.append(self._text_ranking(index, docs, text, body, fields))
        for query in body.get("vectorQueries") or []:
            ranking = self._vector_ranking(docs, query, fields)
            vector_similarity.update(dict(ranking))
            rankings.append([(key, 1.0 / (2.0 - cosine)) for key, cosine in ranking])  # cosine metric's score
        if not rankings:
            scored = [(d[self._key(fields)], 1.0) for d in docs]
        elif len(rankings) == 1:
            scored = rankings[0]
        else:  # hybrid: reciprocal rank fusion, as the service does
            fused: dict[str, float] = {}
            for ranking in rankings:
                for rank, (key, _) in enumerate(ranking):
                    fused[key] = fused.get(key, 0.0) + 1.0 / (RRF_K + rank + 1)
            scored = sorted(fused.items(), key=lambda item: -item[1])
        by_key = index["docs"]
        reranker: dict[str, float] = {}
        if body.get("queryType") == "semantic":
            configurations = {c["name"] for c in (definition.get("semantic") or {}).get("configurations") or []}
            wanted = body.get("semanticConfiguration") or (definition.get("semantic") or {}).get("defaultConfiguration")
            if wanted not in configurations:
                raise BadRequest(f"Unknown semantic configuration {wanted!r}")
            if not text or text == "*":
                raise BadRequest("A semantic query needs search text")
            terms = set(words(text))
            for key, _ in scored[:50]:
                document = by_key[key]
                found = set(words(" ".join([document.get("title") or "", document.get("content") or ""])))
                reranker[key] = round(4.0 * len(terms & found) / max(1, len(terms)), 4)
            scored = sorted(scored[:50], key=lambda item: -reranker[item[0]]) + scored[50:]
        if body.get("orderby"):
            for clause in reversed([c.strip() for c in body["orderby"].split(",")]):
                field_name, _, direction = clause.partition(" ")
                if not fields.get(field_name, {}).get("sortable"):
                    raise BadRequest(f"Invalid expression: '{field_name}' is not sortable")
                scored.sort(key=lambda item: by_key[item[0]].get(field_name), reverse=direction.strip() == "desc")
        total = len(scored)
        skip = int(body.get("skip") or 0)
        top = body.get("top")
        size = min(PAGE, int(top)) if top is not None else 50
        page = scored[skip: skip + size]
        select = [s.strip() for s in (body.get("select") or "").split(",") if s.strip()] or [
            f["name"] for f in fields.values() if f.get("retrievable", True)
        ]
        for field_name in select:
            if field_name not in fields or not fields[field_name].get("retrievable", True):
                raise BadRequest(f"Invalid select: '{field_name}' is not a retrievable field")
        value = []
        for key, score in page:
            document = by_key[key]
            item = {"@search.score": score}
            if key in reranker:
                item["@search.rerankerScore"] = reranker[key]
            item.update({f: document.get(f) for f in select})
            value.append(item)
        response = {"value": value}
        if body.get("count"):
            response["@odata.count"] = total
        more = skip + size < total and (top is None or int(top) > size)
        if more:  # a continuation, as the service sends past 50 results without top, or past 1000 with it
            following = {**body, "skip": skip + size}
            if top is not None:
                following["top"] = int(top) - size
            response["@search.nextPageParameters"] = following
            response["@odata.nextLink"] = f"{self.endpoint}/indexes('{name}')/docs/search.post.search"
        self._json(h, 200, response)

    @staticmethod
    def _key(fields: dict) -> str:
        return next(f["name"] for f in fields.values() if f.get("key"))

    def _text_ranking(self, index, docs, text, body, fields) -> list[tuple[str, float]]:
        searchable = [f["name"] for f in fields.values() if f.get("searchable") and "Single" not in f["type"]]
        wanted = [s.strip() for s in (body.get("searchFields") or "").split(",") if s.strip()] or searchable
        for field_name in wanted:
            if field_name not in searchable:
                raise BadRequest(f"Invalid searchFields: '{field_name}' is not searchable")
        terms = words(text)
        corpus = list(index["docs"].values())  # term statistics over the whole index, as the service keeps them
        if not corpus or not terms:
            return []

        def tokens(document):
            parts = []
            for field_name in wanted:
                value = document.get(field_name)
                parts += value if isinstance(value, list) else [value or ""]
            return words(" ".join(parts))

        bm25 = BM25Okapi([tokens(d) for d in corpus])
        key = self._key(fields)
        allowed = {d[key] for d in docs}
        scores = bm25.get_scores(terms)
        ranked = [(corpus[i][key], float(scores[i])) for i in np.argsort(-scores)]
        matched = [(k, s) for k, s in ranked if k in allowed and s > 0]
        if body.get("searchMode") == "all":
            matched = [(k, s) for k, s in matched if set(terms) <= set(tokens(index["docs"][k]))]
        return matched

    def _vector_ranking(self, docs, query, fields) -> list[tuple[str, float]]:
        if query.get("kind") != "vector":
            raise BadRequest(f"Only vector queries of kind 'vector' are supported here, not {query.get('kind')!r}")
        field_name = query.get("fields")
        spec = fields.get(field_name)
        if spec is None or spec["type"] != "Collection(Edm.Single)":
            raise BadRequest(f"'{field_name}' is not a vector field")
        vector = np.asarray(query.get("vector") or [], dtype=np.float64)
        if len(vector) != spec["dimensions"]:
            raise BadRequest(f"The vector has {len(vector)} dimensions, the field '{field_name}' {spec['dimensions']}")
        k = int(query.get("k") or 50)
        key = self._key(fields)
        scored = []
        for document in docs:
            stored = np.asarray(document.get(field_name) or [], dtype=np.float64)
            if len(stored) != len(vector):
                continue
            denominator = float(np.linalg.norm(stored) * np.linalg.norm(vector)) or 1.0
            scored.append((document[key], float(stored @ vector) / denominator))
        scored.sort(key=lambda item: -item[1])
        return scored[:k]

    def _json(self, h, code: int, payload: dict, headers: dict | None = None) -> None:
        data = json.dumps(payload).encode()
        h.send_response(code)
        h.send_header("Content-Type", "application/json; odata.metadata=none")
        h.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            h.send_header(name, value)
        h.end_headers()
        h.wfile.write(data)


def _result(key, succeeded: bool, status: int, message: str | None = None) -> dict:
    return {"key": key, "status": succeeded, "errorMessage": message, "statusCode": status}


def _check_value(spec: dict, value) -> None:
    kind, name = spec["type"], spec["name"]
    if value is None:
        return
    if kind.startswith("Collection("):
        if not isinstance(value, list):
            raise BadRequest(f"The field '{name}' is a collection; a JSON array is expected")
        inner = kind[len("Collection("):-1]
        if kind == "Collection(Edm.Single)":
            if len(value) != spec["dimensions"]:
                raise BadRequest(f"The vector field '{name}' needs {spec['dimensions']} dimensions, got {len(value)}")
            if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in value):
                raise BadRequest(f"The vector field '{name}' holds a value that is not a finite number")
            return
        for item in value:
            _check_value({"type": inner, "name": name}, item)
        return
    expected = {"Edm.String": str, "Edm.Int32": int, "Edm.Int64": int, "Edm.Double": (int, float),
                "Edm.Boolean": bool}.get(kind)
    if expected and not isinstance(value, expected):
        raise BadRequest(f"The field '{name}' expects {kind}, got {type(value).__name__}")


def self_signed_context(directory) -> tuple[ssl.SSLContext, str]:
    """A server TLS context for 127.0.0.1 and the path of its certificate (the client's CA bundle)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path = str(directory / "fake-search-cert.pem")
    key_path = str(directory / "fake-search-key.pem")
    with open(cert_path, "wb") as handle:
        handle.write(certificate.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as handle:
        handle.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    return context, cert_path
