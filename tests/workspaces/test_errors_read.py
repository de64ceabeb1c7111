"""What an Azure ML SDK error means (workspaces/azureml_common/errors.py: `translate`) is always an answer: whatever
text or body the service sends, translating it never raises (it once did, on a backslash JSON does not know, and
the follower took that for an interruption and cancelled a healthy run), a 429 or 5xx stays retried, and no
secret in the text reaches the message."""

import json

import requests
from azure.core.exceptions import HttpResponseError
from hypothesis import given, settings
from hypothesis import strategies as st

from workspaces.azureml_common.errors import translate
from workspaces.errors import FlowError, TransientError

SECRET = "Zm9vYmFyc2VjcmV0c2ln"  # what no message may carry on
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)


def service_error(status: int, text: str, body) -> list[BaseException]:
    """An error as each SDK raises one: azure-core's with its status and body, requests' with a response, or SDK
    v1's text with the service's JSON dumped inside it."""
    response = requests.Response()
    response.status_code, response._content = status, json.dumps(body).encode()
    errors = [
        HttpResponseError(message=text, response=None),
        requests.HTTPError(text, response=response),
        Exception(f'{{"status_code": {status}, "error": {{"code": "X", "message": "{text}"}}}} (HTTP {status})'),
    ]
    errors[0].status_code = status
    return errors


@settings(max_examples=300, deadline=None)
@given(
    status=st.sampled_from([400, 401, 403, 404, 409, 429, 500, 502, 503]), text=st.text(max_size=200), body=json_values
)
def test_translating_any_error_gives_an_answer_retried_for_429_and_5xx(status, text, body):
    for error in service_error(status, text, body):
        translated = translate(error, "following run 'reg-0.8'")
        assert isinstance(translated, FlowError)
        assert isinstance(translated, TransientError) == (status == 429 or status >= 500), (error, translated)


@settings(max_examples=200, deadline=None)
@given(before=st.text(max_size=60), after=st.text(max_size=60))
def test_no_sas_signature_key_or_token_reaches_the_message(before, after):
    texts = [
        f"{before} https://acct.blob.core.windows.net/c/b?sv=2021&sig={SECRET}&se=x {after}",
        f"{before} DefaultEndpointsProtocol=https;AccountName=a;AccountKey={SECRET};{after}",
        f"{before} Authorization: Bearer {SECRET}.{SECRET} {after}",
        f'{before} {{"accountKey": "{SECRET}"}} {after}',
    ]
    for text in texts:
        for error in service_error(403, text, {"error": {"message": text}}):
            assert SECRET not in str(translate(error, "reading a log")), text
