"""Legacy request parameters: query, urlencoded, multipart and JSON bodies merged into one dict.

Names are matched case-insensitively (keys are lower-cased at every level), PHP form arrays
(``smsdata[0][sendto]=…``) become lists and dicts, and a ``datajson`` parameter (a JSON string, or
an object in a JSON body) is merged over everything else. Values are left untouched: a ``+`` that
a GET query turned into a space is still a leading space here (the services read it as ``+``).
"""
import json
import re

from werkzeug.datastructures import FileStorage

from smsplatform.errors import ValidationError

MAX_ARRAY_DEPTH = 5
_PHP_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])+)$")
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def collect_params(request) -> tuple[dict, list[tuple[str, FileStorage]]]:
    """All parameters of a legacy call (query < form < JSON body < datajson) and its uploaded files.

    A file part without a name or content is no file (an HTML form whose file input was left empty
    sends one).
    """
    try:
        return _collect(request)
    except RecursionError:  # JSON nested thousands deep: the parser, or the walks below, ran out of stack
        raise ValidationError("the request's JSON is nested too deeply") from None


def _collect(request) -> tuple[dict, list[tuple[str, FileStorage]]]:
    params: dict = {}
    _merge_pairs(params, request.args.items(multi=True))
    files: list[tuple[str, FileStorage]] = []
    if request.mimetype in _FORM_TYPES and not _json_labelled_as_form(request):
        _merge_pairs(params, request.form.items(multi=True))
        files = [(key.lower(), storage) for key, storage in request.files.items(multi=True)
                 if not _empty_file_part(storage)]
    else:
        body = _json_body(request)
        if body is not None:
            params.update(lower_keys(body))
    if "datajson" in params:
        params.update(_datajson(params.pop("datajson")))
    params = {key: _lists_from_php_arrays(value) for key, value in params.items()}
    return params, files


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
