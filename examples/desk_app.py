"""A support desk app: tickets routed through `support_desk.route` by `policylang.runtime`.

    pip install -e '.[openai]'
    python examples/desk_app.py                      # against a local OpenAI-compatible server
    python examples/desk_app.py --base-url URL       # against a real one (OPENAI_API_KEY)
    python examples/desk_app.py --log decisions.jsonl   # the decision log where you name it

By default it starts the tiny OpenAI-compatible server the runtime's tests use, on 127.0.0.1,
and has it play the providers: one ticket's first answer is unsure, so the cascade climbs; one
provider is rate limited, so after its retries the declared fallback answers. Every decision
is appended to a JSON-lines log (by default in a new temporary folder, so that a run leaves
nothing in the folder it runs from; the last line says where), and each ticket's exact cost
(from the usage the server reports, at the policy's prices) is printed with the total.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import tempfile
from decimal import Decimal
from itertools import groupby

import policylang
from policylang import runtime
from policylang.runtime.localserver import LocalServer

HERE = pathlib.Path(__file__).resolve().parent

TICKETS = [
    ({"task": "classify", "input_tokens": 300}, "Where is my parcel? Order 1182 was due on Monday."),
    ({"task": "refund_dispute", "input_tokens": 1_200}, "You charged my card twice for order 1190."),
    ({"task": "extract", "input_tokens": 2_000}, "Pull the order number and the address out of this thread."),
    ({"task": "translate", "input_tokens": 900}, "Bitte stornieren Sie meine Bestellung."),
    ({"task": "summarize", "input_tokens": 3_000, "pii": True}, "Summarise this call with Ms. Jansen (account 4471)."),
    ({"task": "classify", "input_tokens": 250_000}, "(a very long thread)"),
]

ANSWER = '{{"answer": "{}", "confidence": {}}}'


def script(server: LocalServer, index: int, signals: dict) -> None:
    """What the local 'providers' do for ticket `index`: each reports the ticket's input tokens
    and a 60-token answer; one answer is unsure, one provider has an outage."""
    for model in ("deepseek/deepseek-v4-pro", "anthropic/claude-sonnet-4-6", "openai/gpt-5.5", "z-ai/glm-5.2",
                  "local/llama-4-70b"):
        server.reply(model, ANSWER.format("delivery delayed", 0.92), prompt_tokens=signals["input_tokens"],
                     completion_tokens=60)
    if index == 2:  # fast is unsure about the extraction: the cascade climbs to mid
        server.reply("deepseek/deepseek-v4-pro", ANSWER.format("order 1182?", 0.55),
                     prompt_tokens=signals["input_tokens"], completion_tokens=60)
    if index == 3:  # fast is rate limited three times: after its retries, backup answers
        server.fail("deepseek/deepseek-v4-pro", 429, times=3, retry_after=0.1)


def called(result: runtime.Result) -> str:
    """The calls of a run, a model's failed tries folded: `fast(rate_limited x3) backup`."""
    words: list[str] = []
    for (model, error), group in groupby(result.attempts, key=lambda a: (a.model, None if a.answered else a.error)):
        count = len(list(group))
        if error is None:
            words.extend([model] * count)
        else:
            words.append(f"{model}({error}{f' x{count}' if count > 1 else ''})")
    return " ".join(words)


def dollars(amount: Decimal) -> str:
    return f"${amount.normalize():f}" if amount else "$0"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--policy", default=str(HERE / "support_desk.route"), help="the policy (default: %(default)s)")
    parser.add_argument("--log", help="the decision log (default: decisions.jsonl in a new temporary folder)")
    parser.add_argument("--base-url", help="a real OpenAI-compatible endpoint instead of the local server")
    options = parser.parse_args(argv)
    try:
        policy = policylang.load(options.policy)
    except policylang.PolicyError as error:
        print(error, file=sys.stderr)
        return 1
    log_path = options.log or str(pathlib.Path(tempfile.mkdtemp(prefix="desk_app-")) / "decisions.jsonl")
    server = LocalServer().start() if options.base_url is None else None
    call = runtime.clients.openai(base_url=options.base_url or server.url,
                                  api_key=None if options.base_url else "local")
    with runtime.JsonlLog(log_path) as log:
        router = runtime.Router(policy, call, assess=runtime.assess.outcomes(json=True), log=log)
        total = Decimal(0)
        print(f"{'ticket':<28} {'rule':<12} {'models called':<30} {'cost':>10}")
        for index, (signals, text) in enumerate(TICKETS):
            if server is not None:
                script(server, index, signals)
            label = f"{signals['task']}, {signals['input_tokens']:,} tokens"
            try:
                result = router.run(signals, text)
            except runtime.Rejected as rejected:
                print(f"{label:<28} {rejected.decision.rule:<12} {'rejected: ' + rejected.reason}")
                continue
            except runtime.Exhausted as exhausted:
                print(f"{label:<28} {exhausted.decision.rule:<12} no model could answer")
                continue
            total += result.cost
            print(f"{label:<28} {result.rule:<12} {called(result):<30} {dollars(result.cost):>10}")
    if server is not None:
        server.stop()
    print(f"total {dollars(total)} for {len(TICKETS)} tickets; every decision logged to {log_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
