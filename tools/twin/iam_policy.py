"""IAM policy evaluation for the twin: what AWS decides for a request signed with an instance role's credentials.

Rule (AWS IAM User Guide, "Policy evaluation logic" and "IAM JSON policy elements"): a request is allowed only if
an identity policy has an Allow statement that matches its action, its resource and its conditions, and no statement
with Effect Deny matches (an explicit deny overrides every allow); otherwise it is denied (implicit deny).
- Action / NotAction: "service:Action", case-insensitive, with the wildcards * and ?.
- Resource / NotResource: ARNs, case-sensitive, with * and ?; the partition is part of the ARN (aws-cn in China), so
  a statement written for arn:aws:... never matches a resource of arn:aws-cn:...
- Condition: every operator of a statement must match (AND), any value of one key matches (OR); ...IfExists matches
  when the key is absent; a key absent from the request makes a condition false, except for the negated operators
  (StringNotEquals, StringNotLike, ArnNotEquals, ArnNotLike), which are true then ("Condition operators").
moto (5.x) evaluates resources only for S3 and matches every other resource against "*", and turns a Deny whose
condition does not match into a denial, so the twin evaluates with this module instead (moto_server.py: Rule).
Standard library only.
"""

import json
import re

ALLOW, IMPLICIT_DENY, EXPLICIT_DENY = "allow", "implicit-deny", "explicit-deny"
NEGATED = ("StringNotEquals", "StringNotEqualsIgnoreCase", "StringNotLike", "ArnNotEquals", "ArnNotLike",
           "NotIpAddress")


def _list(value):
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _wild(pattern, text, ignore_case=False):
    """IAM wildcards: * (any run of characters, '/' and ':' included) and ? (one character); nothing else."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, text, (re.IGNORECASE | re.DOTALL) if ignore_case else re.DOTALL) is not None


def _arn_like(pattern, arn):
    """ArnLike: each of the six colon-separated parts matches on its own (a * does not cross a colon there)."""
    p, a = pattern.split(":", 5), arn.split(":", 5)
    if len(p) != 6 or len(a) != 6:
        return False
    return all(_wild(x, y) for x, y in zip(p, a))


def _compare(operator, expected, actual):
    base = operator
    if base.endswith("IgnoreCase"):
        return _compare(base[:-len("IgnoreCase")], expected.lower(), actual.lower())
    if base in ("StringEquals", "StringNotEquals"):
        return expected == actual
    if base in ("StringLike", "StringNotLike"):
        return _wild(expected, actual)
    if base in ("ArnEquals", "ArnNotEquals"):
        return expected == actual
    if base in ("ArnLike", "ArnNotLike"):
        return _arn_like(expected, actual)
    if base == "Bool":
        return str(expected).lower() == str(actual).lower()
    if base.startswith("Numeric"):
        e, a = float(expected), float(actual)
        return {"NumericEquals": a == e, "NumericNotEquals": a != e, "NumericLessThan": a < e,
                "NumericLessThanEquals": a <= e, "NumericGreaterThan": a > e,
                "NumericGreaterThanEquals": a >= e}[base]
    raise ValueError("condition operator %s is not modelled by the twin" % operator)


def _condition_matches(condition, context):
    ctx = {k.lower(): v for k, v in (context or {}).items()}
    for raw_operator, keys in (condition or {}).items():
        qualifier, operator = (raw_operator.split(":", 1) if ":" in raw_operator else ("", raw_operator))
        if_exists = operator.endswith("IfExists")
        operator = operator[:-len("IfExists")] if if_exists else operator
        for key, expected in keys.items():
            present = key.lower() in ctx
            if operator == "Null":
                if (str(_list(expected)[0]).lower() == "true") == present:
                    return False
                continue
            if not present:
                if if_exists or operator in NEGATED:
                    continue
                return False
            actual = [str(v) for v in _list(ctx[key.lower()])]
            wanted = [str(v) for v in _list(expected)]
            negated = operator in NEGATED
            positive = operator.replace("Not", "", 1) if negated else operator

            def hit(value):
                return any(_compare(positive, w, value) for w in wanted)
            if qualifier == "ForAllValues":
                ok = all(hit(v) for v in actual)
            else:  # a single-valued key, or ForAnyValue
                ok = any(hit(v) for v in actual)
            if ok == negated:
                return False
    return True


def _statement_matches(statement, action, resource, context):
    if "NotAction" in statement:
        if any(_wild(p, action, ignore_case=True) for p in _list(statement["NotAction"])):
            return False
    elif not any(_wild(p, action, ignore_case=True) for p in _list(statement.get("Action"))):
        return False
    if "NotResource" in statement:
        if any(_wild(p, resource) for p in _list(statement["NotResource"])):
            return False
    elif not any(_wild(p, resource) for p in _list(statement.get("Resource"))):
        return False
    return _condition_matches(statement.get("Condition"), context)


def documents(policies):
    """Policy documents as dicts, from JSON text, URL-encoded JSON (as IAM returns it) or dicts."""
    out = []
    for policy in policies:
        if isinstance(policy, (str, bytes)):
            text = policy.decode() if isinstance(policy, bytes) else policy
            try:
                policy = json.loads(text)
            except ValueError:
                from urllib.parse import unquote
                policy = json.loads(unquote(text))
        out.append(policy)
    return out


def evaluate(policies, action, resources, context=None):
    """(decision, statement id) for action on every resource of resources (all of them must be allowed)."""
    docs = documents(policies)
    statements = [s for d in docs for s in _list(d.get("Statement"))]
    for resource in resources:
        for s in statements:
            if s.get("Effect") == "Deny" and _statement_matches(s, action, resource, context):
                return EXPLICIT_DENY, s.get("Sid", "")
    allowed_by = ""
    for resource in resources:
        match = [s for s in statements
                 if s.get("Effect") == "Allow" and _statement_matches(s, action, resource, context)]
        if not match:
            return IMPLICIT_DENY, ""
        allowed_by = allowed_by or match[0].get("Sid", "")
    return ALLOW, allowed_by
