"""Sends agent traces to an Evident server with the official OpenTelemetry Python SDK
and its OTLP exporters, as an instrumented application would.

Run by crates/server/tests/otlp_exporters.rs with the venv scripts/test creates
(tests/otlp/requirements.txt pins every package). Two traces per run:

- an OpenTelemetry GenAI (semantic conventions v1.37) agent trace: an
  `invoke_agent` root, `chat` calls (one in the deprecated style: `gen_ai.system`,
  `gen_ai.usage.prompt_tokens`, per-message span events), three `execute_tool`
  spans of which one fails, and a plain HTTP span;
- an OpenInference trace: AGENT, LLM, TOOL, RETRIEVER and RERANKER spans.

The spans are recorded by the SDK, then handed to the real exporter for the chosen
transport (`export()` twice: the second time is a re-send the server must treat as a
no-op). Prints one JSON object: for each trace its id and, for each logical span,
its span id, so the Rust test can check the stored events span by span.

Usage: send_traces.py --transport http-protobuf|http-json|grpc --endpoint URL --key KEY
"""

import argparse
import json
import sys
import time

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as GenAI
from opentelemetry.trace import SpanKind
from openinference.semconv.trace import (
    DocumentAttributes,
    MessageAttributes,
    OpenInferenceSpanKindValues,
    SpanAttributes,
    ToolCallAttributes,
)


class Recorder(SpanProcessor):
    """Keeps every finished span, to be exported explicitly."""

    def __init__(self):
        self.spans = []

    def on_end(self, span):
        self.spans.append(span)


def make_exporter(transport, endpoint, key):
    headers = {"authorization": f"Bearer {key}"}
    if transport == "http-protobuf":
        from opentelemetry.exporter.otlp.proto.http import Compression
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter(
            endpoint=endpoint, headers=headers, compression=Compression.Gzip, timeout=30
        )
    if transport == "http-json":
        from opentelemetry.exporter.otlp.json.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter(endpoint=endpoint, headers=headers, timeout=30)
    if transport == "grpc":
        from grpc import Compression
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter(
            endpoint=endpoint,
            insecure=True,
            headers=tuple(headers.items()),
            compression=Compression.Gzip,
            timeout=30,
        )
    raise SystemExit(f"unknown transport {transport}")


def span_id(span):
    return format(span.get_span_context().span_id, "016x")


def trace_id(span):
    return format(span.get_span_context().trace_id, "032x")


def messages(*items):
    return json.dumps(list(items))


def genai_trace(tracer, transport):
    """An agent run under the OpenTelemetry GenAI conventions (v1.37)."""
    ids = {}
    with tracer.start_as_current_span(
        "invoke_agent travel_planner", kind=SpanKind.CLIENT
    ) as agent:
        agent.set_attributes(
            {
                GenAI.GEN_AI_OPERATION_NAME: "invoke_agent",
                GenAI.GEN_AI_PROVIDER_NAME: "openai",
                GenAI.GEN_AI_AGENT_ID: "travel-planner-7",
                GenAI.GEN_AI_AGENT_NAME: "Travel Planner",
                GenAI.GEN_AI_AGENT_DESCRIPTION: "Plans business trips",
                GenAI.GEN_AI_REQUEST_MODEL: "gpt-4o",
                GenAI.GEN_AI_CONVERSATION_ID: "conv-" + transport,
                GenAI.GEN_AI_INPUT_MESSAGES: messages(
                    {"role": "user", "parts": [{"type": "text", "content": "Book me a trip to Paris"}]}
                ),
                GenAI.GEN_AI_OUTPUT_MESSAGES: messages(
                    {
                        "role": "assistant",
                        "parts": [{"type": "text", "content": "Flights found; the hotel could not be booked."}],
                        "finish_reason": "stop",
                    }
                ),
                "app.request.bytes": 2**60 + 1,
                "app.ratio": 0.25,
            }
        )
        ids["invoke_agent"] = span_id(agent)

        with tracer.start_as_current_span("chat gpt-4o", kind=SpanKind.CLIENT) as chat:
            chat.set_attributes(
                {
                    GenAI.GEN_AI_OPERATION_NAME: "chat",
                    GenAI.GEN_AI_PROVIDER_NAME: "openai",
                    GenAI.GEN_AI_REQUEST_MODEL: "gpt-4o",
                    GenAI.GEN_AI_RESPONSE_MODEL: "gpt-4o-2024-08-06",
                    GenAI.GEN_AI_REQUEST_TEMPERATURE: 0.2,
                    GenAI.GEN_AI_REQUEST_MAX_TOKENS: 512,
                    GenAI.GEN_AI_USAGE_INPUT_TOKENS: 120,
                    GenAI.GEN_AI_USAGE_OUTPUT_TOKENS: 45,
                    GenAI.GEN_AI_RESPONSE_FINISH_REASONS: ("tool_calls",),
                    GenAI.GEN_AI_SYSTEM_INSTRUCTIONS: json.dumps(
                        [{"type": "text", "content": "You are a travel agent."}]
                    ),
                    GenAI.GEN_AI_INPUT_MESSAGES: messages(
                        {"role": "user", "parts": [{"type": "text", "content": "Book me a trip to Paris"}]}
                    ),
                    GenAI.GEN_AI_OUTPUT_MESSAGES: messages(
                        {
                            "role": "assistant",
                            "parts": [
                                {"type": "tool_call", "id": "call_1", "name": "get_weather",
                                 "arguments": {"city": "Paris"}},
                                {"type": "tool_call", "id": "call_2", "name": "search_flights",
                                 "arguments": {"to": "CDG"}},
                            ],
                            "finish_reason": "tool_calls",
                        }
                    ),
                }
            )
            ids["chat_1"] = span_id(chat)

        tools = [
            ("get_weather", "call_1", {"city": "Paris"}, {"temp_c": 18, "sky": "clear"}),
            ("search_flights", "call_2", {"to": "CDG"}, {"flights": ["AF123", "LH456"]}),
        ]
        for name, call_id, arguments, result in tools:
            with tracer.start_as_current_span(f"execute_tool {name}", kind=SpanKind.INTERNAL) as tool:
                tool.set_attributes(
                    {
                        GenAI.GEN_AI_OPERATION_NAME: "execute_tool",
                        GenAI.GEN_AI_TOOL_NAME: name,
                        GenAI.GEN_AI_TOOL_CALL_ID: call_id,
                        GenAI.GEN_AI_TOOL_TYPE: "function",
                        GenAI.GEN_AI_TOOL_CALL_ARGUMENTS: json.dumps(arguments),
                        GenAI.GEN_AI_TOOL_CALL_RESULT: json.dumps(result),
                    }
                )
                ids[name] = span_id(tool)

        # The failing tool: the SDK records the exception and the ERROR status.
        try:
            with tracer.start_as_current_span(
                "execute_tool book_hotel", kind=SpanKind.INTERNAL
            ) as tool:
                ids["book_hotel"] = span_id(tool)
                tool.set_attributes(
                    {
                        GenAI.GEN_AI_OPERATION_NAME: "execute_tool",
                        GenAI.GEN_AI_TOOL_NAME: "book_hotel",
                        GenAI.GEN_AI_TOOL_CALL_ID: "call_3",
                        GenAI.GEN_AI_TOOL_CALL_ARGUMENTS: json.dumps({"city": "Paris", "nights": 2}),
                        "error.type": "TimeoutError",
                    }
                )
                raise TimeoutError("hotel API timed out after 30s")
        except TimeoutError:
            pass

        # A chat call from an older instrumentation: no operation name,
        # `gen_ai.system`, prompt/completion token names, per-message events.
        with tracer.start_as_current_span("openai.chat", kind=SpanKind.CLIENT) as chat:
            chat.set_attributes(
                {
                    "gen_ai.system": "openai",
                    GenAI.GEN_AI_REQUEST_MODEL: "gpt-4o-mini",
                    "gen_ai.usage.prompt_tokens": 300,
                    "gen_ai.usage.completion_tokens": 80,
                }
            )
            chat.add_event(
                "gen_ai.system.message",
                {"gen_ai.system": "openai", "content": "Summarise for the user."},
            )
            chat.add_event(
                "gen_ai.user.message",
                {"gen_ai.system": "openai", "content": "What happened with my booking?"},
            )
            chat.add_event(
                "gen_ai.choice",
                {
                    "gen_ai.system": "openai",
                    "index": 0,
                    "finish_reason": "stop",
                    "message": json.dumps({"role": "assistant", "content": "Flights are held; the hotel failed."}),
                },
            )
            ids["chat_2"] = span_id(chat)

        # Not GenAI at all: still an event (type `step`), never skipped.
        with tracer.start_as_current_span("GET /v1/quota", kind=SpanKind.SERVER) as http:
            http.set_attributes({"http.request.method": "GET", "http.response.status_code": 200})
            ids["http"] = span_id(http)

    return {"trace_id": trace_id(agent), "spans": ids}


def openinference_trace(tracer):
    """The same kind of run under the OpenInference conventions."""
    ids = {}
    kind = SpanAttributes.OPENINFERENCE_SPAN_KIND
    with tracer.start_as_current_span("travel_agent") as agent:
        agent.set_attributes(
            {
                kind: OpenInferenceSpanKindValues.AGENT.value,
                SpanAttributes.AGENT_NAME: "oi-travel-agent",
                SpanAttributes.INPUT_VALUE: "Find me a hotel in Oslo",
                SpanAttributes.OUTPUT_VALUE: "Hotel Bristol, 2 nights",
                SpanAttributes.SESSION_ID: "session-42",
            }
        )
        ids["agent"] = span_id(agent)

        with tracer.start_as_current_span("ChatCompletion") as llm:
            prefix_in = f"{SpanAttributes.LLM_INPUT_MESSAGES}"
            prefix_out = f"{SpanAttributes.LLM_OUTPUT_MESSAGES}"
            llm.set_attributes(
                {
                    kind: OpenInferenceSpanKindValues.LLM.value,
                    SpanAttributes.LLM_MODEL_NAME: "claude-3-5-sonnet",
                    SpanAttributes.LLM_PROVIDER: "anthropic",
                    SpanAttributes.LLM_INVOCATION_PARAMETERS: json.dumps(
                        {"temperature": 0.1, "max_tokens": 256, "tools": [{"name": "lookup_weather"}]}
                    ),
                    SpanAttributes.LLM_TOKEN_COUNT_PROMPT: 210,
                    SpanAttributes.LLM_TOKEN_COUNT_COMPLETION: 33,
                    SpanAttributes.LLM_TOKEN_COUNT_TOTAL: 243,
                    f"{prefix_in}.0.{MessageAttributes.MESSAGE_ROLE}": "system",
                    f"{prefix_in}.0.{MessageAttributes.MESSAGE_CONTENT}": "You book hotels.",
                    f"{prefix_in}.1.{MessageAttributes.MESSAGE_ROLE}": "user",
                    f"{prefix_in}.1.{MessageAttributes.MESSAGE_CONTENT}": "Find me a hotel in Oslo",
                    f"{prefix_out}.0.{MessageAttributes.MESSAGE_ROLE}": "assistant",
                    f"{prefix_out}.0.{MessageAttributes.MESSAGE_TOOL_CALLS}.0.{ToolCallAttributes.TOOL_CALL_FUNCTION_NAME}": "lookup_weather",
                    f"{prefix_out}.0.{MessageAttributes.MESSAGE_TOOL_CALLS}.0.{ToolCallAttributes.TOOL_CALL_FUNCTION_ARGUMENTS_JSON}": json.dumps({"city": "Oslo"}),
                }
            )
            ids["llm"] = span_id(llm)

        with tracer.start_as_current_span("lookup_weather") as tool:
            tool.set_attributes(
                {
                    kind: OpenInferenceSpanKindValues.TOOL.value,
                    SpanAttributes.TOOL_NAME: "lookup_weather",
                    SpanAttributes.TOOL_DESCRIPTION: "Current weather for a city",
                    SpanAttributes.TOOL_PARAMETERS: json.dumps(
                        {"type": "object", "properties": {"city": {"type": "string"}}}
                    ),
                    SpanAttributes.INPUT_VALUE: json.dumps({"city": "Oslo"}),
                    SpanAttributes.INPUT_MIME_TYPE: "application/json",
                    SpanAttributes.OUTPUT_VALUE: json.dumps({"temp_c": 4}),
                    SpanAttributes.OUTPUT_MIME_TYPE: "application/json",
                }
            )
            ids["tool"] = span_id(tool)

        with tracer.start_as_current_span("hotel_search") as retriever:
            docs = SpanAttributes.RETRIEVAL_DOCUMENTS
            retriever.set_attributes(
                {
                    kind: OpenInferenceSpanKindValues.RETRIEVER.value,
                    SpanAttributes.INPUT_VALUE: "hotels in Oslo",
                    f"{docs}.0.{DocumentAttributes.DOCUMENT_ID}": "hotel-bristol",
                    f"{docs}.0.{DocumentAttributes.DOCUMENT_CONTENT}": "Hotel Bristol, central Oslo",
                    f"{docs}.0.{DocumentAttributes.DOCUMENT_SCORE}": 0.92,
                    f"{docs}.1.{DocumentAttributes.DOCUMENT_ID}": "hotel-thon",
                    f"{docs}.1.{DocumentAttributes.DOCUMENT_CONTENT}": "Thon Hotel Opera",
                    f"{docs}.1.{DocumentAttributes.DOCUMENT_SCORE}": 0.81,
                }
            )
            ids["retriever"] = span_id(retriever)

        with tracer.start_as_current_span("rerank") as reranker:
            reranker.set_attributes(
                {
                    kind: OpenInferenceSpanKindValues.RERANKER.value,
                    "reranker.query": "quiet hotel",
                    "reranker.model_name": "cross-encoder/ms-marco",
                    "reranker.output_documents.0.document.id": "hotel-thon",
                }
            )
            ids["reranker"] = span_id(reranker)

    return {"trace_id": trace_id(agent), "spans": ids}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--transport", required=True, choices=["http-protobuf", "http-json", "grpc"])
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--key", required=True)
    args = parser.parse_args()

    recorder = Recorder()
    resource = Resource.create(
        {
            "service.name": "travel-service",
            "service.version": "2.3.1",
            "deployment.environment.name": "test",
        }
    )
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(recorder)
    tracer = provider.get_tracer("evident.tests.otlp", "1.0.0")

    traces = {
        "genai": genai_trace(tracer, args.transport),
        "openinference": openinference_trace(tracer),
    }
    exporter = make_exporter(args.transport, args.endpoint, args.key)
    started = time.monotonic()
    for attempt in ("first", "re-send"):
        result = exporter.export(recorder.spans)
        if result != SpanExportResult.SUCCESS:
            print(f"{args.transport}: {attempt} export failed: {result}", file=sys.stderr)
            return 1
    exporter.shutdown()
    traces["span_count"] = len(recorder.spans)
    traces["seconds"] = round(time.monotonic() - started, 3)
    print(json.dumps(traces))
    return 0


if __name__ == "__main__":
    sys.exit(main())
