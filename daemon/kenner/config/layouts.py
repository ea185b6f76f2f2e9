"""Bring the three accepted YAML layouts into kenner's own layout, remembering where keys came from.

kenner's layout (top-level ``validators``, ``policy``, ``features``, ``server``, ...) is what the
structuring step reads. Connaisseur's Helm values (v3: everything under ``application:``; v2:
``validators``/``policy`` next to chart keys such as ``deployment:``) are rewritten into it. Each
rewritten subtree records its source path in ``origins`` so that an error found later is still
reported at the key the operator wrote.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from kenner.config.source import KeyPath

Layout = str  # "kenner", "connaisseur-v3" or "connaisseur-v2"

_V3_TOP_KEYS = ("application", "kubernetes", "alerting")
_V3_APPLICATION_KEYS = ("validators", "policy", "features", "logLevel", "logFormat")
_V3_CACHE_KEYS = ("expirySeconds", "cacheErrors", "redis")
# Keys only Connaisseur v2's flat Helm values have; one of them marks a file as that layout.
_V2_APP_KEYS = (
    "detectionMode",
    "automaticChildApproval",
    "automaticUnchangedApproval",
    "logLevel",
    "debug",
)
_V2_CHART_KEYS = ("deployment", "service", "namespacedValidation")
_V2_KEYS = ("validators", "policy", *_V2_APP_KEYS, *_V2_CHART_KEYS, "alerting")
# Connaisseur v2's snake_case alerting keys; accepted in every layout, as kenner's spelling.
_ALERTING_ALIASES = {"cluster_identifier": "clusterIdentifier"}
_ALERT_EVENT_ALIASES = {"admit_request": "admitRequest", "reject_request": "rejectRequest"}
_ALERT_RECEIVER_ALIASES = {
    "receiver_url": "receiverUrl",
    "custom_headers": "customHeaders",
    "payload_fields": "payloadFields",
    "fail_if_alert_sending_fails": "failIfAlertSendingFails",
}
# Connaisseur's level names that kenner spells differently.
_LOG_LEVEL_SPELLINGS = {"warn": "warning", "critical": "error", "fatal": "error", "panic": "error"}


def unknown_key_message(key: object, allowed: Iterable[str]) -> str:
    """``unknown key 'trustroot' (did you mean 'trustRoot'?)``."""
    choices = list(allowed)
    by_case = {choice.lower(): choice for choice in choices}
    close = difflib.get_close_matches(str(key), choices, n=1, cutoff=0.6)
    guess = by_case.get(str(key).lower()) or (close[0] if close else None)
    hint = f" (did you mean '{guess}'?)" if guess else f" (expected one of {', '.join(choices)})"
    return f"unknown key '{key}'{hint}"


@attrs.define
class Translation:
    """A document in kenner's layout plus the map back to the source's key paths."""

    layout: Layout
    doc: dict[str, Any] = attrs.field(factory=dict)
    origins: dict[KeyPath, KeyPath] = attrs.field(factory=dict)
    problems: list[tuple[KeyPath, str]] = attrs.field(factory=list)  # source paths

    def source_path(self, path: KeyPath) -> KeyPath:
        """The source key path that the kenner-layout ``path`` was taken from."""
        for end in range(len(path), -1, -1):
            origin = self.origins.get(path[:end])
            if origin is not None:
                return origin + path[end:]
        return path

    def place(self, path: tuple[str, ...], value: Any, source: KeyPath) -> None:
        """Put ``value`` at kenner-layout ``path``, remembering it came from ``source``."""
        target = self.doc
        for key in path[:-1]:
            target = target.setdefault(key, {})
        target[path[-1]] = value
        self.origins[path] = source


def translate(data: Mapping[str, Any]) -> Translation:
    """Rewrite a top-level mapping of any accepted layout into kenner's layout."""
    if "application" in data:
        translation = _from_connaisseur_v3(data)
    elif any(key in data for key in (*_V2_APP_KEYS, *_V2_CHART_KEYS)):
        translation = _from_connaisseur_v2(data)
    else:
        translation = Translation(layout="kenner", doc=dict(data), origins={(): ()})
    _rename_aliases(translation)
    return translation


def _from_connaisseur_v3(data: Mapping[str, Any]) -> Translation:
    translation = Translation(layout="connaisseur-v3", origins={(): ("application",)})
    for key in data:
        if key == "alerting":
            translation.place((key,), data[key], (key,))
        elif key not in _V3_TOP_KEYS:
            translation.problems.append(((key,), unknown_key_message(key, _V3_TOP_KEYS)))
    application = data["application"]
    if not isinstance(application, Mapping):
        translation.problems.append((("application",), "must be a mapping"))
        return translation
    for key, value in application.items():
        source: KeyPath = ("application", key)
        if key in ("validators", "policy"):
            translation.place((key,), value, source)
        elif key == "features":
            _v3_features(translation, value)
        elif key == "logLevel":
            translation.place(("log", "level"), _log_level(value), source)
        elif key == "logFormat":
            # Connaisseur's "json-pretty" only indents; kenner writes one JSON object a line.
            log_format = "json" if value == "json-pretty" else value
            translation.place(("log", "format"), log_format, source)
        else:
            translation.problems.append((source, unknown_key_message(key, _V3_APPLICATION_KEYS)))
    return translation


def _v3_features(translation: Translation, features: Any) -> None:
    source: KeyPath = ("application", "features")
    if not isinstance(features, Mapping):
        translation.place(("features",), features, source)  # the structuring step says why
        return
    kept = {}
    for key, value in features.items():
        if key == "namespacedValidation":
            continue  # the webhook's namespaceSelector does this; nothing for the daemon
        if key == "cache":
            _v3_cache(translation, value)
        else:
            kept[key] = value
    translation.place(("features",), kept, source)


def _v3_cache(translation: Translation, cache: Any) -> None:
    source: KeyPath = ("application", "features", "cache")
    if not isinstance(cache, Mapping):
        translation.problems.append((source, "must be a mapping"))
        return
    for key, value in cache.items():
        if key == "expirySeconds":
            translation.place(("cache", "ttlSeconds"), value, (*source, key))
        elif key == "cacheErrors":
            if not isinstance(value, bool):
                translation.problems.append(((*source, key), "must be true or false"))
            elif not value:
                translation.place(("cache", "failureTtlSeconds"), 0.0, (*source, key))
        elif key == "redis":  # kenner's own (scale-out), spelled as in kenner's layout
            translation.place(("cache", "redis"), value, (*source, key))
        else:
            translation.problems.append(((*source, key), unknown_key_message(key, _V3_CACHE_KEYS)))


def _from_connaisseur_v2(data: Mapping[str, Any]) -> Translation:
    translation = Translation(layout="connaisseur-v2", origins={(): ()})
    for key, value in data.items():
        if key in ("validators", "policy"):
            translation.place((key,), value, (key,))
        elif key in ("detectionMode", "automaticUnchangedApproval"):
            translation.place(("features", key), value, (key,))
        elif key == "automaticChildApproval":
            _v2_enabled_flag(translation, key, value)
        elif key == "logLevel":
            translation.place(("log", "level"), _log_level(value), (key,))
        elif key == "debug":
            if not isinstance(value, bool):
                translation.problems.append(((key,), "must be true or false"))
            elif value and "logLevel" not in data:
                translation.place(("log", "level"), "debug", (key,))
        elif key == "alerting":
            translation.place((key,), value, (key,))
        elif key not in _V2_CHART_KEYS:
            translation.problems.append(((key,), unknown_key_message(key, _V2_KEYS)))
    return translation


def _v2_enabled_flag(translation: Translation, key: str, value: Any) -> None:
    if not isinstance(value, Mapping):
        translation.problems.append(((key,), "must be a mapping with the key 'enabled'"))
        return
    for inner in value:
        if inner != "enabled":
            translation.problems.append(((key, inner), unknown_key_message(inner, ["enabled"])))
    if "enabled" in value:
        translation.place(("features", key), value["enabled"], (key, "enabled"))


def _log_level(value: Any) -> Any:
    if not isinstance(value, str):
        return value  # the structuring step reports the wrong type
    lowered = value.lower()
    return _LOG_LEVEL_SPELLINGS.get(lowered, lowered)


def _rename_aliases(translation: Translation) -> None:
    """Accept Connaisseur v2's snake_case spellings of the keys that have them."""
    doc = translation.doc
    if isinstance(doc.get("validators"), list):
        validators = []
        for index, validator in enumerate(doc["validators"]):
            path: KeyPath = ("validators", index)
            renamed = _renamed(translation, validator, path, "trust_roots", "trustRoots")
            if isinstance(renamed, dict) and isinstance(renamed.get("auth"), dict):
                auth = _renamed(
                    translation, renamed["auth"], (*path, "auth"), "secret_name", "secretName"
                )
                renamed = {**renamed, "auth": auth}
            validators.append(renamed)
        doc["validators"] = validators
    if isinstance(doc.get("policy"), list):
        rules = []
        for index, rule in enumerate(doc["policy"]):
            if isinstance(rule, dict) and isinstance(rule.get("with"), dict):
                path = ("policy", index, "with")
                rule = {
                    **rule,
                    "with": _renamed(translation, rule["with"], path, "trust_root", "trustRoot"),
                }
            rules.append(rule)
        doc["policy"] = rules
    _rename_alerting_aliases(translation)


def _rename_alerting_aliases(translation: Translation) -> None:
    """Connaisseur v2 wrote ``admit_request: {templates: [{receiver_url: ...}]}``."""
    alerting = translation.doc.get("alerting")
    if not isinstance(alerting, dict):
        return
    for old, new in _ALERTING_ALIASES.items():
        alerting = _renamed(translation, alerting, ("alerting",), old, new)
    for old, new in _ALERT_EVENT_ALIASES.items():
        alerting = _renamed(translation, alerting, ("alerting",), old, new)
    for event in _ALERT_EVENT_ALIASES.values():
        path: KeyPath = ("alerting", event)
        receivers = alerting.get(event)
        if isinstance(receivers, dict):
            receivers = _renamed(translation, receivers, path, "templates", "receivers")
            if isinstance(receivers.get("receivers"), list):
                renamed = []
                for index, receiver in enumerate(receivers["receivers"]):
                    for old, new in _ALERT_RECEIVER_ALIASES.items():
                        receiver_path = (*path, "receivers", index)
                        receiver = _renamed(translation, receiver, receiver_path, old, new)
                    renamed.append(receiver)
                receivers = {**receivers, "receivers": renamed}
            alerting = {**alerting, event: receivers}
    translation.doc["alerting"] = alerting


def _renamed(translation: Translation, mapping: Any, path: KeyPath, old: str, new: str) -> Any:
    if not isinstance(mapping, dict) or old not in mapping:
        return mapping
    if new in mapping:
        translation.problems.append(
            (translation.source_path((*path, old)), f"give either '{old}' or '{new}', not both")
        )
        return mapping
    renamed = {new if key == old else key: value for key, value in mapping.items()}
    translation.origins[(*path, new)] = (*translation.source_path(path), old)
    return renamed
