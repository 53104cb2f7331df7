package io.tandem.orchestrator.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A session deadline (here a model step that takes longer than {@code tandem.session.step-timeout}
 * of 1 s) ends as an OpenAI error object: 504 with {@code Retry-After} when nothing was sent yet,
 * or in a stream an error event and {@code data: [DONE]} after the text already sent, which stands.
 * Without a stream the output written before the deadline is not returned, and the message says so.
 * Either way {@code /metrics} counts the request as ended in an error, as vLLM counts a failed one.
 */
class SessionDeadlinesTest {
  static final ObjectMapper JSON = new ObjectMapper();
  @RegisterExtension
  static final TestServer server = TestServer.start("tandem.session.step-timeout = 1s\n");

  private static final String ERRORS = "tandem:request_success_total{finished_reason=\"error\"}";
  private static final String BODY =
      "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":50,\"tandem\":{\"mode\":\"small\"}%s}";

  @Test
  void aStepPastItsDeadlineIsA504WithRetryAfter() throws Exception {
    server.gate.close();
    HttpResponse<String> r = server.post("/v1/chat/completions", String.format(BODY, ""), null);
    assertEquals(504, r.statusCode(), r.body());
    assertTrue(r.headers().firstValue("Retry-After").isPresent());
    assertTrue(r.headers().firstValue("Content-Type").orElse("").contains("application/json"));
    JsonNode e = JSON.readTree(r.body()).get("error");
    assertEquals("timeout", e.get("code").asText());
    assertTrue(e.get("message").asText().contains("did not answer within 1 s"), r.body());
  }

  /** A request whose model steps stop after four: the fifth runs into the step deadline. */
  private static HttpResponse<String> afterFourSteps(String fields) throws Exception {
    server.gate.close();
    server.gate.allow(4);
    return server.post("/v1/chat/completions", String.format(BODY, fields), null);
  }

  /**
   * An answer the server replaced by an error object is not charged to its tenant's tokens per
   * minute (tester43b: an overloaded server's 503s, 164 tokens each, none delivered, made the
   * tenant's next request a 429); a stream's output sent before its error event is.
   */
  @Test
  void outputTheServerFailedToDeliverIsNotChargedToTheTenantsBudget() throws Exception {
    try (TestServer s = TestServer.start("tandem.session.step-timeout = 1s\n"
        + "tandem.http.api-keys = [{key = sk-frank, tenant = frank, tokens-per-minute = 5}]\n")) {
      s.gate.close();
      s.gate.allow(4);
      HttpResponse<String> failed = s.post("/v1/chat/completions", String.format(BODY, ""), "sk-frank");
      assertEquals(504, failed.statusCode(), failed.body());
      s.gate.open();
      HttpResponse<String> next = s.post("/v1/chat/completions", String.format(BODY, ""), "sk-frank");
      assertEquals(200, next.statusCode(), "the 504's prompt and output were charged: " + next.body());
      // That answer was delivered, and overdraws the budget of 5 tokens a minute.
      assertEquals(429, s.post("/v1/chat/completions", String.format(BODY, ""), "sk-frank").statusCode());
    }
  }

  @Test
  void withoutAStreamTheOutputBeforeTheDeadlineIsNotSaidToStand() throws Exception {
    HttpResponse<String> r = afterFourSteps("");
    assertEquals(504, r.statusCode(), r.body());
    String message = JSON.readTree(r.body()).at("/error/message").asText();
    assertTrue(message.contains("of output, which are not returned"), r.body());
    assertFalse(message.contains("stand as sent"), r.body());
  }

  @Test
  void inAStreamTheDeadlineIsAnErrorEventThenDoneAfterTheTextSent() throws Exception {
    double errorsBefore = server.count(ERRORS);
    HttpResponse<String> r = afterFourSteps(",\"stream\":true");
    assertEquals(200, r.statusCode(), r.body());
    // The status went out before the output; the metrics count the request as vLLM counts a failed one.
    TestServer.eventually("the stream that failed counts as ended in an error", () -> server.count(ERRORS) == errorsBefore + 1);
    List<String> events = new ArrayList<>();
    for (String line : r.body().split("\n")) if (line.startsWith("data: ")) events.add(line.substring(6));
    assertTrue(events.size() >= 3, r.body());
    assertEquals("[DONE]", events.get(events.size() - 1));
    JsonNode error = JSON.readTree(events.get(events.size() - 2)).get("error");
    assertEquals("timeout", error.get("code").asText(), r.body());
    assertTrue(error.get("message").asText().contains("which stand as sent"), r.body());
    StringBuilder text = new StringBuilder();
    for (String ev : events.subList(0, events.size() - 2)) {
      JsonNode chunk = JSON.readTree(ev);
      assertTrue(chunk.at("/choices/0/finish_reason").isNull(), "no finish_reason contradicts the error: " + ev);
      text.append(chunk.at("/choices/0/delta/content").asText(""));
    }
    assertTrue(text.length() > 0, "text was streamed before the deadline");
  }

  /** A client that bills from usage still learns what it was sent: the usage chunk comes before the error event. */
  @Test
  void inAStreamThatAskedForUsageTheUsageOfTheTextSentComesBeforeTheErrorEvent() throws Exception {
    HttpResponse<String> r = afterFourSteps(",\"stream\":true,\"stream_options\":{\"include_usage\":true}");
    List<String> events = new ArrayList<>();
    for (String line : r.body().split("\n")) if (line.startsWith("data: ")) events.add(line.substring(6));
    assertEquals("[DONE]", events.get(events.size() - 1), r.body());
    assertEquals("timeout", JSON.readTree(events.get(events.size() - 2)).at("/error/code").asText(), r.body());
    JsonNode usage = JSON.readTree(events.get(events.size() - 3));
    assertEquals(0, usage.get("choices").size(), r.body());
    int sent = 0;
    for (String ev : events.subList(0, events.size() - 3))
      if (!JSON.readTree(ev).at("/choices/0/delta/content").asText("").isEmpty()) sent++;
    assertTrue(sent > 0, r.body());
    assertTrue(usage.at("/usage/completion_tokens").asInt() >= sent, "at least one token per chunk of text: " + r.body());
    assertTrue(usage.at("/usage/prompt_tokens").asInt() > 0, r.body());
    // What the prompt's reader said of its cache with its first tokens: known though no Finished came (it was null; tester41b).
    assertTrue(usage.at("/usage/prompt_tokens_details/cached_tokens").isInt(), r.body());
    assertEquals(usage.at("/usage/prompt_tokens").asInt() + usage.at("/usage/completion_tokens").asInt(),
        usage.at("/usage/total_tokens").asInt(), r.body());
  }

  /**
   * Text held back because a stop string might begin there is output like the rest when the stream
   * fails before the stop string is complete: what usage counts is what the client read.
   */
  @Test
  void textHeldBackForAStopStringThatNeverCameIsSentBeforeTheErrorEvent() throws Exception {
    // The small script begins "Let me verify, is is equals three ...": all of it a prefix of the stop string.
    HttpResponse<String> r = afterFourSteps(",\"stream\":true,\"stream_options\":{\"include_usage\":true},"
        + "\"stop\":[\"Let me verify, is is equals three equals of is of of XYZ\"]");
    List<String> events = new ArrayList<>();
    for (String line : r.body().split("\n")) if (line.startsWith("data: ")) events.add(line.substring(6));
    assertEquals("timeout", JSON.readTree(events.get(events.size() - 2)).at("/error/code").asText(), r.body());
    int counted = JSON.readTree(events.get(events.size() - 3)).at("/usage/completion_tokens").asInt();
    StringBuilder text = new StringBuilder();
    for (String ev : events.subList(0, events.size() - 3)) text.append(JSON.readTree(ev).at("/choices/0/delta/content").asText(""));
    assertTrue(counted > 0, r.body());
    assertEquals(String.join("", TestServer.SMALL.subList(0, counted)), text.toString(), r.body());
  }
}
