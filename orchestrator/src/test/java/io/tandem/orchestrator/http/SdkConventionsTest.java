package io.tandem.orchestrator.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * What OpenAI SDK and vLLM clients rely on beyond the bodies' main fields: {@code GET
 * /v1/models/{id}} for a Hugging Face name with a slash (the Node SDK sends it unencoded), the
 * {@code X-Request-Id} header on every answer (the SDKs' {@code request_id}), and vLLM's {@code
 * stop_reason}, null when no stop string ended the output.
 */
class SdkConventionsTest {
  static final String KEY = "sk-sdk";
  static final String HF_NAME = "Qwen/Qwen2.5-1.5B";
  static final ObjectMapper JSON = new ObjectMapper();

  @RegisterExtension
  static final TestServer server = TestServer.start("tandem.http.api-keys = [{key = \"" + KEY + "\", tenant = t}]\n"
      + "tandem.http.served-model-names = [\"" + HF_NAME + "\", alias]\n");

  private static HttpResponse<String> send(String method, String path, String body, String requestId) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(server.base + path)).timeout(Duration.ofSeconds(60))
        .header("Authorization", "Bearer " + KEY).header("Content-Type", "application/json")
        .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
    if (requestId != null) b.header("X-Request-Id", requestId);
    return server.http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  private static String requestId(HttpResponse<String> r) {
    return r.headers().firstValue("x-request-id").orElse(null);
  }

  // GET /v1/models/{id}

  @Test
  void everyListedModelCanBeRetrievedByItsIdSlashedOrNot() throws Exception {
    List<String> listed = new ArrayList<>();
    JSON.readTree(send("GET", "/v1/models", null, null).body()).path("data").forEach(m -> listed.add(m.path("id").asText()));
    assertEquals(List.of(HF_NAME, "alias"), listed);
    for (String path : new String[] {"/v1/models/" + HF_NAME, "/v1/models/Qwen%2FQwen2.5-1.5B", "/v1/models/alias"}) {
      HttpResponse<String> r = send("GET", path, null, null);
      assertEquals(200, r.statusCode(), path + ": " + r.body());
      String id = JSON.readTree(r.body()).path("id").asText();
      assertEquals(path.endsWith("alias") ? "alias" : HF_NAME, id, path);
    }
  }

  @Test
  void anUnknownModelIdSlashedOrNotIsModelNotFound() throws Exception {
    for (String id : new String[] {"nope", "org/nope", "Qwen/Qwen2.5-1.5B/extra"}) {
      HttpResponse<String> r = send("GET", "/v1/models/" + id, null, null);
      assertEquals(404, r.statusCode(), id + ": " + r.body());
      JsonNode error = JSON.readTree(r.body()).path("error");
      assertEquals("model_not_found", error.path("code").asText(), r.body());
      assertEquals("model", error.path("param").asText(), r.body());
      assertTrue(error.path("message").asText().startsWith("the model '" + id + "' does not exist"), r.body());
    }
  }

  /**
   * {@code /v1/models/} names no model: it is no path of the API, as {@code /v1/models/alias/} is not
   * (vLLM has neither: FastAPI answers 404, after a redirect to {@code /v1/models} for the first).
   */
  @Test
  void anEmptyModelIdIsNoSuchEndpointLikeATrailingSlash() throws Exception {
    for (String path : new String[] {"/v1/models/", "/v1/models/alias/"}) {
      HttpResponse<String> r = send("GET", path, null, null);
      assertEquals(404, r.statusCode(), path + ": " + r.body());
      JsonNode error = JSON.readTree(r.body()).path("error");
      assertEquals("not_found", error.path("code").asText(), r.body());
      assertTrue(error.path("param").isNull(), r.body());
      assertTrue(error.path("message").asText().startsWith("no such endpoint: GET " + path + " (see "), r.body());
    }
  }

  /** A client of the Responses API (the AI SDK's openai(model) by default) is told which API this is (tester58a). */
  @Test
  void theResponsesApiIsNamedAsTheOneThisServerDoesNotSpeak() throws Exception {
    HttpResponse<String> r = send("POST", "/v1/responses", "{\"model\":\"tandem\",\"input\":\"hi\"}", null);
    assertEquals(404, r.statusCode(), r.body());
    String message = JSON.readTree(r.body()).path("error").path("message").asText();
    assertTrue(message.startsWith("no such endpoint: POST /v1/responses (see ") && message.contains("not its Responses API")
        && message.contains("POST /v1/chat/completions"), message);
    String other = JSON.readTree(send("POST", "/v1/responsesx", "{}", null).body()).path("error").path("message").asText();
    assertFalse(other.contains("Responses API"), other);
  }

  /**
   * A request whose {@code model} is empty is served by the first name, as one without it: vLLM takes
   * an empty name as unset ({@code OpenAIServing._is_model_supported}), where a name it does not
   * serve is a 404; {@code /tokenize} alike.
   */
  @Test
  void anEmptyModelNameIsTheFirstServedOneAsInVllm() throws Exception {
    for (String path : new String[] {"/v1/chat/completions", "/v1/completions"}) {
      String input = path.contains("chat") ? "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]" : "\"prompt\":\"hi\"";
      HttpResponse<String> r = send("POST", path, "{\"model\":\"\"," + input + ",\"max_tokens\":2}", null);
      assertEquals(200, r.statusCode(), path + ": " + r.body());
      assertEquals(HF_NAME, JSON.readTree(r.body()).path("model").asText(), r.body());
      assertEquals(404, send("POST", path, "{\"model\":\" \"," + input + ",\"max_tokens\":2}", null).statusCode(),
          "a blank name is a name, and not served");
    }
    HttpResponse<String> t = send("POST", "/tokenize", "{\"model\":\"\",\"prompt\":\"hi\"}", null);
    assertEquals(200, t.statusCode(), t.body());
  }

  // X-Request-Id

  @Test
  void theClientsRequestIdComesBackOnResultsAndErrorsAlike() throws Exception {
    String chat = "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":4}";
    assertEquals("req-1", requestId(send("POST", "/v1/chat/completions", chat, "req-1")));
    assertEquals("req-2", requestId(send("POST", "/v1/chat/completions", chat.replace("}]", "}],\"stream\":true"), "req-2")));
    HttpResponse<String> badJson = send("POST", "/v1/completions", "{", "req-3");
    assertEquals(400, badJson.statusCode());
    assertEquals("req-3", requestId(badJson));
    HttpResponse<String> unknown = send("GET", "/v1/models/nope", null, "req-4");
    assertEquals(404, unknown.statusCode());
    assertEquals("req-4", requestId(unknown));
  }

  /** vLLM's {@code OpenAIServing._base_request_id}: the header names the completion, before the body's request_id. */
  @Test
  void theClientsRequestIdNamesTheCompletionAsInVllm() throws Exception {
    String chat = "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":4";
    HttpResponse<String> whole = send("POST", "/v1/chat/completions", chat + "}", "trace-9");
    assertEquals("chatcmpl-trace-9", JSON.readTree(whole.body()).path("id").asText(), whole.body());
    assertEquals("trace-9", requestId(whole), "the header comes back as the client sent it");
    HttpResponse<String> both = send("POST", "/v1/completions", "{\"prompt\":\"hi\",\"max_tokens\":4,\"request_id\":\"body-1\"}",
        "header-1");
    assertEquals("cmpl-header-1", JSON.readTree(both.body()).path("id").asText(), both.body());
    HttpResponse<String> spaced = send("POST", "/v1/chat/completions", chat + "}", "two words");
    assertEquals(200, spaced.statusCode(), "a header that cannot name a completion is only echoed: " + spaced.body());
    assertFalse(JSON.readTree(spaced.body()).path("id").asText().contains("two"), spaced.body());
    assertEquals("two words", requestId(spaced));
  }

  @Test
  void withoutOneTheRequestIdIsTheCompletionsId() throws Exception {
    String chat = "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":4";
    HttpResponse<String> whole = send("POST", "/v1/chat/completions", chat + "}", null);
    assertEquals(JSON.readTree(whole.body()).path("id").asText(), requestId(whole));
    assertTrue(requestId(whole).startsWith("chatcmpl-"), requestId(whole));
    HttpResponse<String> streamed = send("POST", "/v1/completions", "{\"prompt\":\"hi\",\"max_tokens\":4,\"stream\":true}", null);
    String firstChunk = streamed.body().lines().filter(l -> l.startsWith("data: {")).findFirst().orElseThrow();
    assertEquals(JSON.readTree(firstChunk.substring(6)).path("id").asText(), requestId(streamed));
    assertTrue(requestId(streamed).startsWith("cmpl-"), requestId(streamed));

    HttpResponse<String> refused = send("POST", "/v1/chat/completions", chat + ",\"n\":2}", null);
    assertEquals(400, refused.statusCode());
    assertTrue(requestId(refused).startsWith("chatcmpl-"), "a refused completion carries the id it would have had");
    HttpResponse<String> models = send("GET", "/v1/models", null, null);
    assertTrue(requestId(models) != null && !requestId(models).isBlank(), "every answer has one");
    assertFalse(requestId(models).equals(requestId(send("GET", "/v1/models", null, null))), "one per request");
  }

  // stop_reason

  /** The choice of a whole answer, and of each chunk of the streamed one. */
  private static List<JsonNode> choices(String path, String body) throws Exception {
    List<JsonNode> out = new ArrayList<>();
    out.add(JSON.readTree(send("POST", path, body + "}", null).body()).path("choices").get(0));
    for (String line : send("POST", path, body + ",\"stream\":true}", null).body().split("\n")) {
      if (!line.startsWith("data: {")) continue;
      JsonNode c = JSON.readTree(line.substring(6)).path("choices").get(0);
      if (c != null) out.add(c);
    }
    return out;
  }

  @Test
  void stopReasonIsNullWhenTheLengthOrTheEndOfSequenceEndedTheOutput() throws Exception {
    String chat = "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":";
    String legacy = "{\"prompt\":\"hi\",\"max_tokens\":";
    // 4 tokens end by length; the scripted small model alone reaches its end of sequence well within 4000.
    for (String[] c : new String[][] {{"/v1/chat/completions", chat + "4", "length"}, {"/v1/completions", legacy + "4", "length"},
        {"/v1/chat/completions", chat + "4000,\"tandem\":{\"mode\":\"small\"}", "stop"},
        {"/v1/completions", legacy + "4000,\"tandem\":{\"mode\":\"small\"}", "stop"}}) {
      List<JsonNode> choices = choices(c[0], c[1]);
      JsonNode whole = choices.get(0);
      JsonNode last = choices.get(choices.size() - 1);
      for (JsonNode ended : List.of(whole, last)) {
        assertEquals(c[2], ended.path("finish_reason").asText(), c[1] + ": " + ended);
        assertTrue(ended.has("stop_reason") && ended.get("stop_reason").isNull(), "vLLM's stop_reason, null: " + ended);
      }
      for (JsonNode running : choices.subList(1, choices.size() - 1))
        assertFalse(running.has("stop_reason"), "as vLLM, only the chunk that ends the output has it: " + running);
    }
  }

  /**
   * With {@code include_usage}, every chunk but the usage chunk has {@code "usage": null}, as OpenAI's
   * API writes it (tester45a); without it, none has the field, as before.
   */
  @Test
  void withIncludeUsageEveryOtherChunkHasUsageNull() throws Exception {
    for (String path : new String[] {"/v1/chat/completions", "/v1/completions"}) {
      String body = (path.contains("chat") ? "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]" : "{\"prompt\":\"hi\"")
          + ",\"max_tokens\":6,\"stream\":true";
      List<JsonNode> asked = new ArrayList<>(), not = new ArrayList<>();
      for (String line : send("POST", path, body + ",\"stream_options\":{\"include_usage\":true}}", null).body().split("\n"))
        if (line.startsWith("data: {")) asked.add(JSON.readTree(line.substring(6)));
      for (String line : send("POST", path, body + "}", null).body().split("\n"))
        if (line.startsWith("data: {")) not.add(JSON.readTree(line.substring(6)));
      JsonNode last = asked.get(asked.size() - 1);
      assertTrue(last.path("usage").path("total_tokens").isInt() && last.path("choices").isEmpty(), last.toString());
      for (JsonNode c : asked.subList(0, asked.size() - 1))
        assertTrue(c.has("usage") && c.get("usage").isNull(), path + ": " + c);
      for (JsonNode c : not) assertFalse(c.has("usage"), path + ": " + c);
    }
  }

  @Test
  void aChatStreamOpensWithTheRoleEvenWhenItsOutputIsEmpty() throws Exception {
    // The scripted small model writes "Let ...": a stop string "L" ends the output before any text.
    for (String stop : new String[] {"L", "zzz"}) {
      String body = "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":6,\"stream\":true,"
          + "\"stop\":[\"" + stop + "\"]}";
      List<JsonNode> chunks = new ArrayList<>();
      for (String line : send("POST", "/v1/chat/completions", body, null).body().split("\n"))
        if (line.startsWith("data: {")) chunks.add(JSON.readTree(line.substring(6)));
      JsonNode first = chunks.get(0).path("choices").get(0);
      assertEquals("assistant", first.path("delta").path("role").asText(), stop + ": " + chunks);
      assertEquals("", first.path("delta").path("content").asText(null), "with empty content, as OpenAI and vLLM send it");
      assertTrue(first.get("finish_reason").isNull(), first.toString());
      long roles = chunks.stream().filter(c -> c.path("choices").path(0).path("delta").has("role")).count();
      assertEquals(1, roles, "the role once, on the first chunk: " + chunks);
      StringBuilder text = new StringBuilder();
      chunks.forEach(c -> text.append(c.path("choices").path(0).path("delta").path("content").asText("")));
      JsonNode whole = JSON.readTree(send("POST", "/v1/chat/completions", body.replace("\"stream\":true,", ""), null).body());
      assertEquals(whole.path("choices").get(0).path("message").path("content").asText(), text.toString(), stop);
      if (stop.equals("L")) assertEquals("", text.toString(), "the stop string came first");
    }
  }

  @Test
  void upTo64StopStringsAreTakenAndEachIsLookedFor() throws Exception {
    // OpenAI allows 4 and vLLM any number; evaluation harnesses send longer lists. The scripted model writes "Let ...".
    List<String> stops = new ArrayList<>();
    for (int i = 0; i < 63; i++) stops.add("zz" + i);
    stops.add("L");
    HttpResponse<String> r = send("POST", "/v1/chat/completions", withStops(stops), null);
    assertEquals(200, r.statusCode(), r.body());
    assertEquals("L", JSON.readTree(r.body()).path("choices").get(0).path("stop_reason").asText(), "the 64th is looked for too");
    stops.add("zz");
    HttpResponse<String> over = send("POST", "/v1/chat/completions", withStops(stops), null);
    assertEquals(400, over.statusCode(), over.body());
    JsonNode e = JSON.readTree(over.body()).path("error");
    assertEquals("stop", e.path("param").asText());
    assertTrue(e.path("message").asText().startsWith("stop has 65 strings; at most 64 are allowed"), e.toString());
    // Together at most OpenAI's four of 256 (each is looked for at every token); characters are code points.
    String emoji = "\uD83D\uDE00".repeat(256);
    assertEquals(200, send("POST", "/v1/chat/completions", withStops(List.of(emoji)), null).statusCode(), "256 characters");
    HttpResponse<String> long5 = send("POST", "/v1/chat/completions", withStops(java.util.Collections.nCopies(5, emoji)), null);
    assertEquals(400, long5.statusCode(), long5.body());
    assertEquals("stop's strings have 1280 characters together; at most 1024 are allowed",
        JSON.readTree(long5.body()).path("error").path("message").asText());
    HttpResponse<String> tooLong = send("POST", "/v1/chat/completions", withStops(List.of(emoji + "x")), null);
    assertEquals("stop[0] has 257 characters; a stop string has at most 256",
        JSON.readTree(tooLong.body()).path("error").path("message").asText());
  }

  private static String withStops(List<String> stops) throws Exception {
    return "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":6,\"stop\":" + JSON.writeValueAsString(stops) + "}";
  }
}
