"""Language models that speak as the character: embedded llama.cpp, or any OpenAI-compatible
endpoint.

Both engines implement :class:`LLM`: :meth:`~LLM.stream` yields the answer's text deltas (and,
from engines with native tool calling, :class:`~characters.conversation.prompt.ToolCall` s) for
chat messages built by :func:`characters.conversation.prompt.build_messages`. It is synchronous:
the conversation runs it in a worker thread and sets ``cancel`` to stop it, which takes effect
within one token (or one small prompt batch) and frees the model for the next answer.

* :class:`LlamaCppLLM` runs a GGUF model in process (default ``qwen2.5-coder-0.5b-instruct``).
  It renders the prompt with the model's own chat template and keeps one llama.cpp context, so
  llama.cpp reuses the longest common prefix of the previous evaluation: :meth:`~LLM.warm` puts
  the character's system prompt in that cache before the user speaks, and each answer then pays
  only for the new turns. One answer at a time per model.
* :class:`OpenAICompatibleLLM` streams ``POST {base_url}/chat/completions`` (Ollama, vLLM, the
  llama.cpp server, a cloud) and passes the session's tools as OpenAI function tools.

:func:`make_llm` picks one from the settings.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import queue
import threading
from collections.abc import Generator, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import httpx

from characters.config import Settings
from characters.conversation.prompt import Message, ToolCall, ToolSpec
from characters.errors import InvalidInput

if TYPE_CHECKING:
    from llama_cpp import Llama

log = logging.getLogger(__name__)

Delta = str | ToolCall
"""What :meth:`LLM.stream` yields: text, or a native tool call."""


class LLMUnavailable(InvalidInput):
    """The language model cannot be used: an unreachable or rejecting endpoint, a model the
    endpoint does not serve, or a model file llama.cpp cannot load."""


class LLM(Protocol):
    """A chat language model."""

    @property
    def native_tools(self) -> bool:
        """True when tools are passed to :meth:`stream` natively (so the prompt need not
        describe them), False when the prompt must describe them."""
        ...

    def check(self) -> None:
        """Load or reach the model now; :class:`LLMUnavailable` says why it cannot be used."""
        ...

    def warm(self, messages: Sequence[Message]) -> None:
        """Evaluate a prompt prefix (usually the system prompt) so later answers starting
        with it pay only for what follows. A last ``user`` message is a turn still being
        spoken: only its opening and its words so far (``content``, often empty) count."""
        ...

    def stream(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolSpec] | None,
        max_tokens: int,
        temperature: float,
        cancel: threading.Event,
    ) -> Iterator[Delta]:
        """The answer to ``messages``, delta by delta, until it ends or ``cancel`` is set."""
        ...


# Embedded: llama.cpp

_OPEN_TURN = "\u2063\u2063\u2063"
"""Stand-in for the words of a user turn not yet spoken (invisible separators, never typed)."""
PREFILL_CHUNK = 32
"""Prompt tokens evaluated between two looks at ``cancel`` (about 0.15 s on 2 cores)."""
MIN_ANSWER_TOKENS = 16


@functools.cache
def _cpu_has_amx() -> bool:
    try:
        return "amx_int8" in Path("/proc/cpuinfo").read_text()
    except OSError:
        return False


class _KeepOutput:
    """Stands in for llama-cpp-python's ``suppress_stdout_stderr``, which points the whole
    process's file descriptors 1 and 2 at /dev/null while a model loads: every other thread's
    log lines were lost meanwhile (a worker's "registered worker" among them)."""

    def __init__(self, disable: bool = True) -> None:
        pass

    def __enter__(self) -> _KeepOutput:
        return self

    def __exit__(self, *_: object) -> None:
        pass


_GGML_ERROR = 4
"""``GGML_LOG_LEVEL_ERROR`` in the llama.cpp that llama-cpp-python 0.3.36 bundles (its own
Python table still has the old numbering, and let warnings through as errors)."""


@functools.cache
def _keep_output() -> Any:
    """Leave the process's output alone while models load (:class:`_KeepOutput`), and send
    llama.cpp's own messages to the log: errors as errors, the rest (model loading details,
    warnings about the model's vocabulary) at debug level. Returns the callback, which must
    stay referenced while llama.cpp may call it."""
    import ctypes

    import llama_cpp
    import llama_cpp._internals
    import llama_cpp.llama

    native_log = logging.getLogger("characters.llama_cpp")

    @llama_cpp.llama_log_callback  # type: ignore[untyped-decorator]
    def to_log(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
        message = text.decode("utf-8", errors="replace").rstrip()
        if message:
            native_log.log(logging.ERROR if level == _GGML_ERROR else logging.DEBUG, message)

    llama_cpp.llama_log_set(to_log, ctypes.c_void_p(0))
    for module in (llama_cpp._internals, llama_cpp.llama):
        if hasattr(module, "suppress_stdout_stderr"):
            module.suppress_stdout_stderr = _KeepOutput  # type: ignore[attr-defined]
    return to_log


def _load_llama(model_path: Path, threads: int, n_ctx: int) -> Llama:
    """Load a GGUF model, leaving the process's output alone (:class:`_KeepOutput`). On CPUs
    with AMX, llama.cpp's extra weight buffers are turned off: a ``GGML_NATIVE`` build of
    llama-cpp-python 0.3.36 crashes in ``ggml_backend_amx_mul_mat`` on every batch of more
    than one token there (measured on a Sapphire Rapids VM)."""
    import llama_cpp
    import llama_cpp.llama_cpp as native

    _keep_output()

    default_params = native.llama_model_default_params

    def params_without_extra_buffers() -> Any:
        params = default_params()
        params.use_extra_bufts = False
        return params

    if _cpu_has_amx():
        native.llama_model_default_params = params_without_extra_buffers
    try:
        return llama_cpp.Llama(
            model_path=str(model_path),
            n_ctx=n_ctx,
            n_threads=threads,
            n_threads_batch=threads,
            verbose=False,
        )
    finally:
        native.llama_model_default_params = default_params


class _Stop(Protocol):
    def is_set(self) -> bool: ...


class _Either:
    """Set when any of its events is."""

    def __init__(self, *events: threading.Event) -> None:
        self._events = events

    def is_set(self) -> bool:
        return any(e.is_set() for e in self._events)


class LlamaCppLLM:
    """A GGUF chat model run in process by llama.cpp (loaded on first use, or by
    :meth:`check`).

    Every llama.cpp call runs on one long-lived thread of its own, whichever thread calls
    :meth:`stream`: llama.cpp parallelises with OpenMP, which keeps a team of worker threads per
    calling thread, and once two callers have teams on 2 cores its workers stop spinning and
    every batch waits for them to wake (measured: a 4-token batch took 110 ms from a second
    thread against 51 ms from the first; decoding in a conversation ran at 60 ms per token
    instead of 37).

    Args:
        model_path: the ``.gguf`` file.
        threads: CPU threads for prompt evaluation and generation.
        n_ctx: context length in tokens (prompt plus answer).
    """

    native_tools = False

    def __init__(
        self, model_path: Path, *, threads: int = 2, n_ctx: int = 2048, seed: int | None = None
    ) -> None:
        """``seed``: every answer is sampled from this seed (the same prompt, the same answer,
        whatever came before); None: each answer's seed follows from the one before."""
        self.model_path = Path(model_path)
        self.threads = threads
        self.n_ctx = n_ctx
        self.seed = seed
        self._lock = threading.Lock()
        self._llama: Llama | None = None
        self._templates: dict[bool, Any] = {}
        self._worker = ThreadPoolExecutor(1, thread_name_prefix="llama")

    def check(self) -> None:
        """Load the model now (about 0.3 s for the 0.5B model)."""
        with self._lock:
            self._worker.submit(self._model).result()

    def warm(self, messages: Sequence[Message]) -> None:
        """Evaluate ``messages`` as a prompt prefix (without the answer's start).

        A last user message stands for the user's turn still being spoken: the chat template's
        opening of that turn and its words so far (``content``: empty between turns, the
        settled words of a partial transcript while the user speaks) are evaluated, not its
        end, so the answer pays only for the words that follow."""
        with self._lock:
            self._worker.submit(self._warm, list(messages)).result()

    def _warm(self, msgs: list[Message]) -> None:
        llama = self._model()
        if msgs and msgs[-1].get("role") == "user":
            msgs[-1] = {**msgs[-1], "content": f"{msgs[-1].get('content') or ''}{_OPEN_TURN}"}
            prompt = self._render(llama, msgs, answer=False).split(_OPEN_TURN, 1)[0]
            tokens = list(llama.tokenize(prompt.encode("utf-8"), add_bos=False, special=True))
        else:
            tokens = self._tokens(llama, msgs, answer=False)
        self._prefill(llama, tokens, None)

    def stream(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolSpec] | None = None,
        max_tokens: int = 160,
        temperature: float = 0.4,
        cancel: threading.Event | None = None,
    ) -> Iterator[Delta]:
        """The answer, token by token. ``tools`` are ignored: the prompt describes them
        (``build_messages(..., native_tools=False)``)."""
        cancel = cancel or threading.Event()
        if not self._acquire(cancel):
            return
        gone = threading.Event()  # the consumer stopped reading: stop generating
        stop = _Either(cancel, gone)
        wanted = threading.Semaphore(0)  # one token per request, as a plain generator would
        out: queue.SimpleQueue[str | BaseException | None] = queue.SimpleQueue()
        work = self._worker.submit(
            self._produce, list(messages), max_tokens, temperature, stop, wanted, out
        )
        try:
            while True:
                wanted.release()
                item = out.get()
                if item is None:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            gone.set()
            work.result()  # the model is free again before the lock is
            self._lock.release()

    def _produce(
        self,
        messages: list[Message],
        max_tokens: int,
        temperature: float,
        stop: _Either,
        wanted: threading.Semaphore,
        out: queue.SimpleQueue[str | BaseException | None],
    ) -> None:
        """On the llama thread: evaluate the prompt, then put the answer's deltas into ``out``
        one per ``wanted`` request, so that the model pauses while the caller speaks a chunk
        (then None; or the exception that stopped it)."""
        try:
            llama = self._model()
            tokens = self._tokens(llama, messages, answer=True)
            room = self.n_ctx - len(tokens)
            if room < MIN_ANSWER_TOKENS:
                raise InvalidInput(
                    f"The prompt ({len(tokens)} tokens) leaves no room for an answer in the "
                    f"{self.n_ctx}-token context; shorten the personality or the knowledge."
                )
            self._prefill(llama, tokens[:-1], stop)
            deltas = self._generate(
                llama, tokens, min(max_tokens, room), temperature, stop, self.seed
            )
            try:
                while not stop.is_set():
                    if not wanted.acquire(timeout=0.05):
                        continue
                    delta = next(deltas, None)
                    if delta is None:
                        break
                    out.put(delta)
            finally:
                deltas.close()
        except Exception as e:  # handed to the consumer, which raises it
            out.put(e)
        finally:
            out.put(None)

    def _acquire(self, cancel: threading.Event) -> bool:
        while not self._lock.acquire(timeout=0.05):
            if cancel.is_set():
                return False
        return True

    def _model(self) -> Llama:
        if self._llama is None:
            if not self.model_path.is_file():
                raise LLMUnavailable(f"Language model file {self.model_path} does not exist.")
            try:
                self._llama = _load_llama(self.model_path, self.threads, self.n_ctx)
            except (ValueError, RuntimeError) as e:
                raise LLMUnavailable(f"llama.cpp cannot load {self.model_path.name}: {e}") from None
        return self._llama

    def _tokens(self, llama: Llama, messages: Sequence[Message], *, answer: bool) -> list[int]:
        """``messages`` rendered with the model's chat template, as tokens. With ``answer``,
        the prompt ends with the assistant's turn opening."""
        prompt = self._render(llama, messages, answer=answer)
        return list(llama.tokenize(prompt.encode("utf-8"), add_bos=False, special=True))

    def _render(self, llama: Llama, messages: Sequence[Message], *, answer: bool) -> str:
        formatter = self._templates.get(answer)
        if formatter is None:
            formatter = self._templates[answer] = _chat_formatter(llama, answer)
        return str(formatter(messages=list(messages)).prompt)

    @staticmethod
    def _prefill(llama: Llama, tokens: Sequence[int], cancel: _Stop | None) -> None:
        """Evaluate ``tokens``, reusing the longest prefix already in the KV cache, in small
        batches so that ``cancel`` is seen quickly."""
        cached = llama.input_ids[: llama.n_tokens]
        common = 0
        for a, b in zip(cached, tokens, strict=False):
            if a != b:
                break
            common += 1
        llama.n_tokens = common  # eval() drops the cache after this position
        for start in range(common, len(tokens), PREFILL_CHUNK):
            if cancel is not None and cancel.is_set():
                return
            llama.eval(tokens[start : start + PREFILL_CHUNK])

    @staticmethod
    def _generate(
        llama: Llama,
        tokens: list[int],
        max_tokens: int,
        temperature: float,
        cancel: _Stop,
        seed: int | None = None,
    ) -> Generator[str, None, None]:
        from llama_cpp import StoppingCriteriaList

        stop = StoppingCriteriaList([lambda _ids, _logits: cancel.is_set()])
        chunks: Any = llama.create_completion(  # a generator with stream=True
            tokens,
            max_tokens=max_tokens,
            temperature=temperature,
            repeat_penalty=1.1,
            stream=True,
            stopping_criteria=stop,
            seed=seed,
        )
        try:
            for chunk in chunks:
                text = chunk["choices"][0]["text"]
                if text:
                    yield text
                if cancel.is_set():
                    return
        finally:
            chunks.close()


CHATML = (
    "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
"""Fallback template for GGUF files that ship none."""


def _chat_formatter(llama: Llama, answer: bool) -> Any:
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    template = llama.metadata.get("tokenizer.chat_template") or CHATML

    def token_text(token: int) -> str:
        return (
            llama.detokenize([token], special=True).decode("utf-8", "ignore") if token >= 0 else ""
        )

    return Jinja2ChatFormatter(
        template,
        eos_token=token_text(llama.token_eos()),
        bos_token=token_text(llama.token_bos()),
        add_generation_prompt=answer,
    )


# Remote: OpenAI-compatible chat completions


class OpenAICompatibleLLM:
    """A model behind an OpenAI-compatible ``/chat/completions`` endpoint, streamed (SSE).

    Args:
        base_url: e.g. ``http://localhost:11434/v1`` (Ollama), ``http://host:8000/v1`` (vLLM,
            the llama.cpp server).
        model: the model name the endpoint knows.
        api_key: sent as a Bearer token when given.
        timeout_s: connect timeout, and the longest wait for the next piece of the answer.
    """

    native_tools = True

    def __init__(
        self, base_url: str, model: str, api_key: str | None = None, timeout_s: float = 20.0
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(
            headers=headers, timeout=httpx.Timeout(timeout_s), follow_redirects=True
        )

    def close(self) -> None:
        self._client.close()

    def check(self) -> None:
        """``GET /models``: the endpoint answers, accepts the key and serves the model."""
        url = f"{self.base_url}/models"
        try:
            response = self._client.get(url)
        except httpx.HTTPError as e:
            raise LLMUnavailable(f"Cannot reach the language model at {url}: {_why(e)}") from None
        _raise_for_status(response, url)
        try:
            served = [m.get("id") for m in response.json().get("data", [])]
        except (ValueError, AttributeError):
            raise LLMUnavailable(
                f"{url} did not answer with a model list; is {self.base_url} an "
                "OpenAI-compatible API base URL (it usually ends in /v1)?"
            ) from None
        if served and not _serves(served, self.model):
            raise LLMUnavailable(
                f"{self.base_url} does not serve model {self.model!r}; it serves: "
                + ", ".join(str(m) for m in served[:10])
            )

    def warm(self, messages: Sequence[Message]) -> None:
        """Nothing to do: servers keep their own prompt caches (llama.cpp server, vLLM,
        Ollama reuse a repeated prefix on their own)."""

    def stream(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolSpec] | None = None,
        max_tokens: int = 160,
        temperature: float = 0.4,
        cancel: threading.Event | None = None,
    ) -> Iterator[Delta]:
        """The answer's text deltas, then its tool calls; closing the HTTP stream on cancel."""
        cancel = cancel or threading.Event()
        url = f"{self.base_url}/chat/completions"
        body: dict[str, Any] = {
            "model": self.model,
            "messages": list(messages),
            "stream": True,
            "max_tokens": max_tokens,
            "temperature": temperature,
        }
        if tools:
            body["tools"] = [t.openai() for t in tools]
        calls = _CallAssembler()
        try:
            with self._client.stream("POST", url, json=body) as response:
                if response.status_code >= 400:
                    response.read()
                    _raise_for_status(response, url)
                for data in _sse_data(response.iter_lines()):
                    if cancel.is_set():
                        return
                    text = calls.add(data)
                    if text:
                        yield text
        except httpx.HTTPError as e:
            raise LLMUnavailable(f"The language model at {url} failed: {_why(e)}") from None
        if not cancel.is_set():
            yield from calls.calls()


def _sse_data(lines: Iterator[str]) -> Iterator[dict[str, Any]]:
    """The JSON payloads of a server-sent event stream, up to ``[DONE]``."""
    for line in lines:
        if not line.startswith("data:"):
            continue
        payload = line[5:].strip()
        if payload == "[DONE]":
            return
        try:
            data = json.loads(payload)
        except json.JSONDecodeError:
            log.warning("Skipped a malformed event from the language model: %.200s", payload)
            continue
        if isinstance(data, dict):
            if "error" in data:
                raise LLMUnavailable(f"The language model failed: {_error_text(data)}")
            yield data


class _CallAssembler:
    """Collects streamed OpenAI tool-call fragments (by index) into whole calls."""

    def __init__(self) -> None:
        self._parts: dict[int, dict[str, str]] = {}

    def add(self, data: dict[str, Any]) -> str:
        """Take one chunk; return its text."""
        choices = data.get("choices") or [{}]
        delta = choices[0].get("delta") or {}
        for frag in delta.get("tool_calls") or []:
            part = self._parts.setdefault(int(frag.get("index", 0)), {"arguments": ""})
            if frag.get("id"):
                part["id"] = frag["id"]
            function = frag.get("function") or {}
            if function.get("name"):
                part["name"] = function["name"]
            part["arguments"] += function.get("arguments") or ""
        content = delta.get("content")
        return content if isinstance(content, str) else ""

    def calls(self) -> Iterator[ToolCall]:
        for index in sorted(self._parts):
            part = self._parts[index]
            try:
                args = json.loads(part["arguments"] or "{}")
            except json.JSONDecodeError:
                args = None
            if not part.get("name") or not isinstance(args, dict):
                log.warning("Dropped a malformed tool call from the language model: %s", part)
                continue
            if part.get("id"):
                yield ToolCall(part["name"], args, part["id"])
            else:
                yield ToolCall(part["name"], args)


def _serves(served: Sequence[Any], model: str) -> bool:
    names = {str(m) for m in served}
    return model in names or f"{model}:latest" in names or model.removesuffix(":latest") in names


def _raise_for_status(response: httpx.Response, url: str) -> None:
    status = response.status_code
    if status < 400:
        return
    if status in (401, 403):
        raise LLMUnavailable(f"{url} rejected the API key ({status}); set CHARACTERS_LLM_API_KEY.")
    if status == 404:
        raise LLMUnavailable(
            f"{url} does not exist (404); the base URL of an OpenAI-compatible API usually "
            "ends in /v1."
        )
    detail = _error_text(_json_or_none(response)) or response.text[:200]
    raise LLMUnavailable(f"{url} answered {status}: {detail}")


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _error_text(data: Any) -> str:
    if isinstance(data, dict):
        error = data.get("error", data.get("detail"))
        if isinstance(error, dict):
            return str(error.get("message") or error)
        if error:
            return str(error)
    return ""


def _why(error: httpx.HTTPError) -> str:
    if isinstance(error, httpx.ConnectError):
        return f"connection failed ({error})"
    if isinstance(error, httpx.TimeoutException):
        return "timed out"
    return str(error) or type(error).__name__


def default_threads(*, live: bool) -> int:
    """llama.cpp's threads when ``CHARACTERS_LLM_THREADS`` is unset: the cores this process
    may use, at most 4 (the small models gain nothing beyond), and in live calls one fewer.

    A live call's face and voice take about half a core while the model writes the answer, and
    llama.cpp's threads wait for the slowest of them at every layer: on 2 cores one thread
    gave the first audible answer 0.06-0.15 s sooner than two (``bench/realtime.py``), while a
    text chat, with nothing else running, is faster with both.
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    threads = min(4, cores or 1)
    return max(1, threads - 1) if live else threads


def make_llm(settings: Settings, data_dir: Path, *, live: bool = False) -> LLM:
    """The embedded model when ``settings.llm_url`` is unset, else the remote endpoint.
    ``live``: the model answers in live calls (see :func:`default_threads`).

    Raises :class:`~characters.errors.InvalidInput` (``ModelMissing``) for an embedded model id
    that is unknown or not installed.
    """
    if settings.llm_url:
        return OpenAICompatibleLLM(
            settings.llm_url, settings.llm_model, settings.llm_api_key, settings.llm_timeout_s
        )
    from characters.models import resolve

    threads = settings.llm_threads or default_threads(live=live)
    return LlamaCppLLM(
        resolve(settings.llm_model, data_dir), threads=threads, seed=settings.llm_seed
    )
