package io.tandem.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.ConnectException;
import java.nio.channels.UnresolvedAddressException;
import java.util.concurrent.CompletionException;
import org.junit.jupiter.api.Test;

/** How the engine client words what went wrong with an engine, and what it reads of an engine's refusals. */
class EngineClientWordsTest {

  /**
   * The JDK's client fails a host name that resolves to nothing with a ConnectException without a
   * message, its cause the UnresolvedAddressException, as it fails a refused connection without one
   * (tester45b read "connection refused" of a host that does not exist).
   */
  @Test
  void aHostNameThatDoesNotResolveIsNotARefusedConnection() {
    ConnectException unresolved = new ConnectException();
    unresolved.initCause(new UnresolvedAddressException());
    assertEquals("its host name does not resolve (check HOST in the spec's URL)",
        EngineClient.describe(new CompletionException(unresolved)));
    assertEquals("connection refused (is the engine running, on that port?)",
        EngineClient.describe(new CompletionException(new ConnectException())));
    assertEquals("the connection closed mid-answer (the engine stopped, or crashed)",
        EngineClient.describe(new java.io.IOException("chunked transfer encoding, state: READING_LENGTH")));
    // A connection closed before any answer (an engine stopped while SIGSTOPped), in words (tester46d).
    assertEquals("the connection closed before an answer (the engine stopped, or crashed)",
        EngineClient.describe(new java.io.IOException("HTTP/1.1 header parser received no bytes")));
  }

  /**
   * A request the engine took and never answered is an engine not answering, not one out of reach
   * (tester54b read "unreachable" of an engine that had accepted the connection); a connection not
   * made within its timeout is still out of reach.
   */
  @Test
  void aRequestTimedOutOnAnOpenConnectionIsAnEngineNotAnswering() {
    assertEquals("engine 127.0.0.1:9 is not answering: no answer within the request timeout", EngineClient.lostWords(
        "127.0.0.1:9", new CompletionException(new java.net.http.HttpTimeoutException("request timed out"))));
    assertEquals("engine 127.0.0.1:9 unreachable: no connection within the connect timeout", EngineClient.lostWords(
        "127.0.0.1:9", new java.net.http.HttpConnectTimeoutException("connect timed out")));
  }

  /** A 200 whose body has no event is no stream, said so with how it began (tester54b: read as a stream cut short). */
  @Test
  void aBodyWithoutEventsIsNoStream() {
    java.util.List<String> failures = new java.util.ArrayList<>();
    EngineClient.Listener listener = new EngineClient.Listener() {
      public void tokens(int[] ids, String text) {}
      public void usage(int promptTokens, int cachedTokens) {}
      public void ended(String finishReason, boolean stopString) {}
      public void failed(boolean lost, String message) {
        failures.add(message);
      }
      public void refused(io.tandem.protocol.FailureCode code, String message) {}
    };
    EngineClient.SseLines plain = new EngineClient.SseLines(listener);
    plain.onNext("this is not json");
    plain.end();
    EngineClient.SseLines empty = new EngineClient.SseLines(listener);
    empty.end();
    EngineClient.SseLines cut = new EngineClient.SseLines(listener);
    cut.onNext("data: [DONE]");
    cut.end();
    assertEquals(java.util.List.of("the engine answered 200 without a stream (no data: line; its body began this is not json):"
        + " is it an OpenAI-compatible server?", "the engine answered 200 without a stream (no data: line, an empty body): is it"
        + " an OpenAI-compatible server?", "the engine's stream ended without a finish_reason"), failures);
  }

  /** vLLM's flat ErrorResponse and OpenAI's (a Tandem node's) nested one, refusing a request for the context. */
  @Test
  void aRefusalForTheContextIsReadInVllmsFormAndOpenAisForm() {
    String vllm = "{\"object\":\"error\",\"message\":\"This model's maximum context length is 1024 tokens. However, you"
        + " requested 1187 tokens\",\"type\":\"BadRequestError\",\"param\":null,\"code\":400}";
    String openAi = "{\"error\":{\"message\":\"too long\",\"type\":\"invalid_request_error\",\"param\":\"messages\","
        + "\"code\":\"context_length_exceeded\"}}";
    assertTrue(EngineClient.beyondContext(vllm));
    assertTrue(EngineClient.beyondContext(openAi));
    assertFalse(EngineClient.beyondContext("{\"error\":{\"message\":\"stop must be a string\",\"code\":null}}"));
    assertFalse(EngineClient.beyondContext("Bad Request"));
    assertEquals("This model's maximum context length is 1024 tokens. However, you requested 1187 tokens",
        EngineClient.errorMessage(vllm));
    assertEquals("too long", EngineClient.errorMessage(openAi));
    assertEquals("Bad Request", EngineClient.errorMessage("Bad Request"));
  }
}
