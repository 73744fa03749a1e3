"""Legacy request parameters: query, urlencoded, multipart and JSON bodies merged into one dict.

Names are matched case-insensitively (keys are lower-cased at every level), PHP form arrays
(``smsdata[0][sendto]=…``) become lists and dicts, and a ``datajson`` parameter (a JSON string, or
an object in a JSON body) is merged over everything else. Values are left untouched: a ``+`` that
a GET query turned into a space is still a leading space here (the services read it as ``+``).
"""
import codecs
import json
import re
from urllib.parse import unquote_to_bytes

from werkzeug.datastructures import FileStorage

from smsplatform.errors import ValidationError

MAX_ARRAY_DEPTH = 5
_PHP_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])+)$")
PARAMETERS_BEFORE_THE_TOKEN = 1000
_URLENCODED_TOKEN = re.compile(rb"(?:^|&)token=([^&]*)", re.IGNORECASE)
_MULTIPART_TOKEN = re.compile(rb'content-disposition:[^\r\n]*;\s*name="?token"?(?:;[^\r\n]*)?\r\n'
                              rb"(?:[^\r\n]+\r\n)*\r\n([^\r\n]*)\r\n", re.IGNORECASE)
_NOT_TEXT = re.compile("[\x00\ud800-\udfff]")
REPLACEMENT_CHARACTER = "\ufffd"


def collect_params(request) -> tuple[dict, list[tuple[str, FileStorage]]]:
    """All parameters of a legacy call (query < form < JSON body < datajson) and its uploaded files.

    A file part without a name or content is no file (an HTML form whose file input was left empty
    sends one).
    """
    try:
        return _collect(request)
    except RecursionError:  # JSON nested thousands deep: the parser, or the walks below, ran out of stack
        raise ValidationError("the request's JSON is nested too deeply") from None


def token_of_a_long_form(request) -> str | None:
    """The token of a form body of more than ``PARAMETERS_BEFORE_THE_TOKEN`` parameters, found without parsing
    them; None for any other request. Parsing costs seconds for the largest bodies (18 MB of PHP array pairs:
    5 s of CPU, multipart 8 s), so a caller proves it holds a token first. Such a body must carry ``token``
    as its own parameter (or in the query string): a refused call costs a scan, not the parse."""
    if request.mimetype == "application/x-www-form-urlencoded":
        body = request.get_data(cache=True)
        if body.count(b"&") < PARAMETERS_BEFORE_THE_TOKEN or _starts_like_json(body):
            return None
        found = _URLENCODED_TOKEN.search(body)
        token = _url_text(found.group(1), "utf-8", "token", "form body") if found else None
    elif request.mimetype == "multipart/form-data":
        boundary = request.mimetype_params.get("boundary", "").encode("latin-1", "replace")
        body = request.get_data(cache=True)  # werkzeug parses the form from this copy later
        if not boundary or body.count(b"--" + boundary) <= PARAMETERS_BEFORE_THE_TOKEN:
            return None
        found = _MULTIPART_TOKEN.search(body)
        token = found.group(1).decode("utf-8", "replace") if found else None
    else:
        return None
    if token is None and (found := _URLENCODED_TOKEN.search(request.query_string)):
        token = _url_text(found.group(1), "utf-8", "token", "query string")
    if token is None:
        raise ValidationError(f"token is required (a form of more than {PARAMETERS_BEFORE_THE_TOKEN} parameters "
                              "must send it as its own parameter)", field="token")
    return token


def _collect(request) -> tuple[dict, list[tuple[str, FileStorage]]]:
    params: dict = {}
    _merge_pairs(params, url_pairs(request.query_string, "utf-8", "query string"))
    files: list[tuple[str, FileStorage]] = []
    if request.mimetype == "application/x-www-form-urlencoded" and not _json_labelled_as_form(request):
        body = request.get_data(cache=True)
        if request.max_form_parts is not None and body.count(b"&") >= request.max_form_parts:
            raise ValidationError(f"the form has more than {request.max_form_parts} parameters")
        _merge_pairs(params, url_pairs(body, _charset(request), "form body"))
    elif request.mimetype == "multipart/form-data":
        _merge_pairs(params, _multipart_pairs(request))
        files = [(key.lower(), storage) for key, storage in request.files.items(multi=True)
                 if not _empty_file_part(storage)]
    else:
        body = _json_body(request)
        if body is not None:
            params.update(lower_keys(body))
    if "datajson" in params:
        params.update(_datajson(params.pop("datajson")))
    params = {key: _lists_from_php_arrays(value) for key, value in params.items()}
    for key, value in params.items():
        _check_text(value, key)
    return params, files


def url_pairs(raw: bytes, charset: str, where: str) -> list[tuple[str, str]]:
    """The name/value pairs of a query string or urlencoded body, decoded strictly: bytes that are not
    text in ``charset`` are an error naming the parameter, not characters silently replaced or kept
    percent-encoded (as werkzeug's forgiving decoding does)."""
    pairs = []
    for chunk in raw.split(b"&"):
        if chunk:
            name, _, value = chunk.partition(b"=")
            name_text = _url_text(name, charset, "a parameter name", where)
            pairs.append((name_text, _url_text(value, charset, name_text[:60], where)))
    return pairs


def _url_text(part: bytes, charset: str, name: str, where: str) -> str:
    try:
        return unquote_to_bytes(part.replace(b"+", b" ")).decode(charset)
    except UnicodeDecodeError:
        raise ValidationError(
            f"{name} in the {where} is not {charset} text: send UTF-8 (PHP: urlencode a UTF-8 string), or name "
            "the body's encoding in its Content-Type (charset=ISO-8859-1)", field=name) from None


def _charset(request) -> str:
    """The text encoding a form body declares (``charset=…`` of its Content-Type), UTF-8 when it names none."""
    name = request.mimetype_params.get("charset", "utf-8").strip() or "utf-8"
    try:
        known = codecs.lookup(name)
    except LookupError:
        known = None
    if known is None or not known._is_text_encoding:
        raise ValidationError(f"the Content-Type names an unknown charset {name[:40]!r}; send UTF-8")
    return known.name


def _multipart_pairs(request) -> list[tuple[str, str]]:
    """A multipart form's text fields. Werkzeug decodes them forgivingly, so a character it had to replace
    means bytes that were not text in the part's encoding."""
    pairs = list(request.form.items(multi=True))
    for name, value in pairs:
        if REPLACEMENT_CHARACTER in value:
            raise ValidationError(f"{name[:60]} is not UTF-8 text: send the form's fields as UTF-8", field=name)
    return pairs


def _check_text(value, name: str) -> None:
    """Refuse strings no message, name or title can hold: a NUL, and half of a character (a lone UTF-16
    surrogate, which JSON escapes can carry and which cannot be stored or sent)."""
    if isinstance(value, str):
        found = _NOT_TEXT.search(value)
        if found is None:
            return
        if found.group() == "\x00":
            raise ValidationError(f"{name} contains a NUL character (\\0)", field=name)
        raise ValidationError(
            f"{name} contains half of a character (an unpaired UTF-16 surrogate, as cutting a JavaScript string "
            "inside an emoji leaves); send whole characters", field=name)
    if isinstance(value, dict):
        for key, item in value.items():
            _check_text(key, f"{name}: a parameter name")
            _check_text(item, f"{name}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_text(item, f"{name}[{index}]")


def _json_labelled_as_form(request) -> bool:
    """A JSON object posted as ``application/x-www-form-urlencoded``: Apps Script's ``UrlFetchApp`` labels a
    string payload so unless told otherwise. No form's first field name starts with ``{``."""
    return request.mimetype == "application/x-www-form-urlencoded" and _starts_like_json(request.get_data(cache=True))


def _starts_like_json(raw: bytes) -> bool:
    return raw.lstrip()[:1] == b"{"


def _empty_file_part(storage: FileStorage) -> bool:
    if storage.filename:
        return False
    empty = not storage.stream.read(1)
    storage.stream.seek(0)
    return empty


def lower_keys(value):
    """Lower-case every object key, recursively (a published SDK sends ``customerId``)."""
    if isinstance(value, dict):
        return {str(key).lower(): lower_keys(item) for key, item in value.items()}
    if isinstance(value, list):
        return [lower_keys(item) for item in value]
    return value


def _json_body(request) -> dict | None:
    """A JSON object body: sent as application/json, or unlabelled text that starts with ``{``."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        return None
    labelled = request.mimetype == "application/json" or request.mimetype.endswith("+json")
    if not labelled and not _starts_like_json(raw):
        return None
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationError(f"the request body is not valid JSON: {_reason(exc)}") from exc
    if not isinstance(body, dict):
        raise ValidationError("the JSON body must be an object of parameters")
    return body


def parse_json_text(value: str, field: str):
    """A parameter that carries JSON text, read as a JSON body is (keys lower-cased, objects keyed 0, 1, …
    as lists); names the parameter when the text is not JSON."""
    try:
        return _lists_from_php_arrays(lower_keys(json.loads(value)))
    except ValueError as exc:
        raise ValidationError(f"{field} is not valid JSON: {_reason(exc)}", field=field) from exc
    except RecursionError:  # as in collect_params: a parameter's JSON may be nested thousands deep too
        raise ValidationError(f"{field}: the JSON is nested too deeply", field=field) from None


def _datajson(value) -> dict:
    if isinstance(value, dict):
        return value
    if not isinstance(value, str) or not value.strip():
        raise ValidationError("datajson must be a JSON string like {\"token\":…,\"smsdata\":[…]}", field="datajson")
    data = parse_json_text(value, "datajson")
    if not isinstance(data, dict):
        raise ValidationError("datajson must be a JSON object like {\"token\":…,\"smsdata\":[…]}", field="datajson")
    return data


def _reason(exc: Exception) -> str:
    return exc.msg + f" at position {exc.pos}" if isinstance(exc, json.JSONDecodeError) else str(exc)


def _merge_pairs(params: dict, pairs) -> None:
    """Form/query pairs; ``a[0][b]=x`` nests like PHP (``a[]`` appends); a repeated name keeps the last."""
    for key, value in pairs:
        key = key.lower()
        match = _PHP_KEY.match(key)
        if match is None:
            params[key] = value
            continue
        path = [match.group(1)] + re.findall(r"\[([^\[\]]*)\]", match.group(2))
        if len(path) > MAX_ARRAY_DEPTH + 1:
            raise ValidationError(f"parameter {key[:60]!r} is nested too deeply", field=path[0])
        container = params
        for part, next_part in zip(path, path[1:] + [None]):
            if part == "":
                part = str(len(container))
            if next_part is None:
                container[part] = value
            else:
                if not isinstance(container.get(part), dict):
                    container[part] = {}
                container = container[part]


def _lists_from_php_arrays(value):
    """Turn the dicts built from PHP arrays whose keys are all indexes into lists, in index order."""
    if isinstance(value, dict):
        converted = {key: _lists_from_php_arrays(item) for key, item in value.items()}
        if converted and all(isinstance(key, str) and key.isascii() and key.isdigit() and len(key) < 10
                             for key in converted):
            return [converted[key] for key in sorted(converted, key=int)]
        return converted
    return value


def first(params: dict, *names: str):
    """The first of several accepted names that has a value (``tag_id`` or ``ctag_id``): an empty one
    gives way to the next, and is the answer only when no name has more."""
    given = [params[name] for name in names if params.get(name) is not None]
    for value in given:
        if not isinstance(value, str) or value.strip():
            return value
    return given[0] if given else None
