"""The OData filters of SDK v1's run listing (`Run.list`: azureml/_restclient/_odata/), as the fake reads them."""

import re

COMPARISON = re.compile(
    r'(Tags/[^\s()]+|RunId|Status|RunType|ParentRunId|Properties/[^\s()]+)\s+(eq|ne)\s+("[^"]*"|null|[A-Za-z0-9_.-]+)'
)


def matches(expression: str | None, record: dict) -> bool:
    """Whether a run matches an OData filter of the forms the SDK's _odata module writes (comparisons of tags,
    properties, id, status and type, joined by and, or and parentheses). A tag compared with null is present (the
    SDK's "has this tag" filter is `Tags/k ne null or Tags/k eq null`)."""
    if not expression:
        return True

    def compare(found: re.Match) -> str:
        field, operator, literal = found.groups()
        if field.startswith(("Tags/", "Properties/")):
            kind, key = field.split("/", 1)
            values = record["tags" if kind == "Tags" else "properties"]
            if literal == "null":
                return str(key in values)
            actual = values.get(key)
        else:
            actual = {
                "RunId": record["id"],
                "Status": record["status"],
                "RunType": "azureml.scriptrun",
                "ParentRunId": None,
            }[field]
        equal = actual is None if literal == "null" else actual == literal.strip('"')
        return str(equal if operator == "eq" else not equal)

    python = COMPARISON.sub(compare, expression)
    if not re.fullmatch(r"[\s()]*((True|False)[\s()]*((and|or)[\s()]*)?)*", python):
        raise ValueError(f"the fake cannot read the filter {expression!r}")
    return bool(eval(python))  # (only True, False, and, or and parentheses are left: checked above)
