"""JSON for the reference scripts' results: NaN and inf are not JSON, so they travel as
null (the readers take null as NaN). Shared by `reference.py` and `efficientat_torch.py`,
which import it from beside them (a script's folder is first on `sys.path`)."""


def json_safe(v):
    if isinstance(v, float):
        return v if v == v and abs(v) != float("inf") else None
    if isinstance(v, dict):
        return {k: json_safe(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [json_safe(x) for x in v]
    return v
