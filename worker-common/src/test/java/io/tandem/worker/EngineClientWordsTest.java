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
