package io.tandem.orchestrator.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Malformed and hostile requests get a 4xx with a clear OpenAI-style error, and the server keeps serving. */
class HostileRequestsTest {
  static TestServer server;
  static final String KEY = "sk-hostile-test";
  static final String CHAT = "/v1/chat/completions";
  static final String OK_MSGS = "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]";

  @BeforeAll
  static void start() {
    server = TestServer.start("tandem.http.api-keys = [{key = \"" + KEY + "\", tenant = t}]\n"
        + "tandem.http.max-body-size = 64KiB\n");
  }

  @AfterAll
  static void stop() {
    server.close();
  }

  record Case(String name, String path, String body, String key) {}

  static Case chat(String name, String fields) {
    return new Case(name, CHAT, "{\"model\":\"tandem\"," + fields + "}", KEY);
  }

  static List<Case> cases() {
    List<Case> c = new ArrayList<>();
    c.add(new Case("not JSON", CHAT, "this is not json", KEY));
    c.add(new Case("truncated JSON", CHAT, "{\"model\":\"tandem\",\"messages\":[", KEY));
    c.add(new Case("empty body", CHAT, "", KEY));
    c.add(new Case("JSON array body", CHAT, "[1,2,3]", KEY));
    c.add(new Case("JSON string body", CHAT, "\"hello\"", KEY));
    c.add(new Case("trailing garbage", CHAT, "{\"model\":\"tandem\"," + OK_MSGS + "} extra", KEY));
    c.add(new Case("trailing object", CHAT, "{\"model\":\"tandem\"," + OK_MSGS + "} {}", KEY));
    c.add(new Case("NaN", CHAT, "{\"model\":\"tandem\"," + OK_MSGS + ",\"temperature\":NaN}", KEY));
    c.add(new Case("duplicate keys", CHAT, "{\"model\":\"tandem\",\"model\":\"x\"," + OK_MSGS + "}", KEY));
    c.add(new Case("deep nesting", CHAT, "{\"model\":\"tandem\",\"x\":" + "[".repeat(5000) + "]".repeat(5000) + "}", KEY));
    c.add(new Case("huge body", CHAT, "{\"model\":\"tandem\",\"messages\":[{\"role\":\"user\",\"content\":\"" + "a".repeat(200_000) + "\"}]}", KEY));
    c.add(new Case("invalid UTF-8 escapes", CHAT, "{\"model\":\"tandem\",\"messages\":\"\\uZZZZ\"}", KEY));
    c.add(chat("no messages", "\"max_tokens\":5"));
    c.add(chat("messages not an array", "\"messages\":\"hello\""));
    c.add(chat("empty messages", "\"messages\":[]"));
    c.add(chat("message not an object", "\"messages\":[42]"));
    c.add(chat("message without role", "\"messages\":[{\"content\":\"hi\"}]"));
    c.add(chat("unknown role", "\"messages\":[{\"role\":\"wizard\",\"content\":\"hi\"}]"));
    c.add(chat("tool role", "\"messages\":[{\"role\":\"tool\",\"content\":\"hi\"}]"));
    c.add(chat("content a number", "\"messages\":[{\"role\":\"user\",\"content\":7}]"));
    c.add(chat("image content part", "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\",\"image_url\":{\"url\":\"x\"}}]}]"));
    c.add(chat("unknown field in a message", "\"messages\":[{\"role\":\"user\",\"content\":\"hi\",\"temperature\":1}]"));
    // A request without "model" goes to the served model (as in vLLM); one of the wrong type is refused.
    c.add(new Case("model not a string", CHAT, "{\"model\":[\"tandem\"]," + OK_MSGS + "}", KEY));
    c.add(new Case("model a number", CHAT, "{\"model\":5," + OK_MSGS + "}", KEY));
    c.add(new Case("unknown model", CHAT, "{\"model\":\"gpt-5\"," + OK_MSGS + "}", KEY));
    c.add(chat("negative max_tokens", OK_MSGS + ",\"max_tokens\":-5"));
    c.add(chat("zero max_tokens", OK_MSGS + ",\"max_tokens\":0"));
    c.add(chat("absurd max_tokens", OK_MSGS + ",\"max_tokens\":99999999999999"));
    c.add(chat("max_tokens above the server's cap", OK_MSGS + ",\"max_tokens\":2000000"));
    c.add(chat("fractional max_tokens", OK_MSGS + ",\"max_tokens\":10.5"));
    c.add(chat("max_tokens a string", OK_MSGS + ",\"max_tokens\":\"ten\""));
    c.add(chat("negative temperature", OK_MSGS + ",\"temperature\":-1"));
    c.add(chat("absurd temperature", OK_MSGS + ",\"temperature\":1e308"));
    c.add(chat("temperature a string", OK_MSGS + ",\"temperature\":\"hot\""));
    c.add(chat("top_p zero", OK_MSGS + ",\"top_p\":0"));
    c.add(chat("top_p above one", OK_MSGS + ",\"top_p\":1.5"));
    c.add(chat("top_k absurd", OK_MSGS + ",\"top_k\":-100"));
    c.add(chat("seed a float", OK_MSGS + ",\"seed\":1.5"));
    c.add(chat("seed too big", OK_MSGS + ",\"seed\":123456789012345678901234567890"));
    c.add(chat("stream a string", OK_MSGS + ",\"stream\":\"yes\""));
    c.add(chat("stream_options without stream", OK_MSGS + ",\"stream_options\":{\"include_usage\":true}"));
    c.add(chat("continuous usage stats", OK_MSGS + ",\"stream\":true,\"stream_options\":{\"continuous_usage_stats\":true}"));
    c.add(chat("continuous usage stats not a boolean", OK_MSGS + ",\"stream\":true,\"stream_options\":{\"continuous_usage_stats\":\"banana\"}"));
    c.add(chat("stop too many", OK_MSGS + ",\"stop\":" + java.util.stream.IntStream.range(0, 65).mapToObj(i -> "\"s" + i + "\"").toList()));
    c.add(chat("stop a number", OK_MSGS + ",\"stop\":5"));
    c.add(chat("n greater than one", OK_MSGS + ",\"n\":3"));
    c.add(chat("logprobs", OK_MSGS + ",\"logprobs\":true"));
    c.add(chat("tools", OK_MSGS + ",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}]"));
    c.add(chat("unknown top-level field", OK_MSGS + ",\"frobnicate\":true"));
    c.add(chat("prompt on the chat endpoint", OK_MSGS + ",\"prompt\":\"hi\""));
    c.add(chat("tandem not an object", OK_MSGS + ",\"tandem\":5"));
    c.add(chat("tandem unknown mode", OK_MSGS + ",\"tandem\":{\"mode\":\"medium\"}"));
    c.add(chat("tandem misspelt override", OK_MSGS + ",\"tandem\":{\"max_target_tokenz\":3}"));
    c.add(chat("tandem override of a model", OK_MSGS + ",\"tandem\":{\"small_model\":\"/etc/passwd\"}"));
    c.add(new Case("bad key", CHAT, "{\"model\":\"tandem\"," + OK_MSGS + "}", "sk-not-a-key"));
    c.add(new Case("no key", CHAT, "{\"model\":\"tandem\"," + OK_MSGS + "}", null));
    c.add(new Case("completions with messages", "/v1/completions", "{\"model\":\"tandem\"," + OK_MSGS + "}", KEY));
    c.add(new Case("completions token-id prompt", "/v1/completions", "{\"model\":\"tandem\",\"prompt\":[1,2,3]}", KEY));
    c.add(new Case("completions batch", "/v1/completions", "{\"model\":\"tandem\",\"prompt\":[\"a\",\"b\"]}", KEY));
    c.add(new Case("unknown endpoint", "/v1/embeddings", "{}", KEY));
    return c;
  }

  @Test
  void everyHostileRequestGetsA4xxWithAClearMessageAndTheServerKeepsServing() throws Exception {
    List<Case> cases = cases();
    assertTrue(cases.size() >= 50, "at least 50 cases, got " + cases.size());
    ObjectMapper json = new ObjectMapper();
    for (Case c : cases) {
      HttpResponse<String> r = server.post(c.path(), c.body(), c.key());
      assertTrue(r.statusCode() >= 400 && r.statusCode() < 500, c.name() + ": status " + r.statusCode() + " " + r.body());
      JsonNode err = json.readTree(r.body()).get("error");
      String message = err == null ? "" : err.path("message").asText();
      assertTrue(message.length() > 10, c.name() + ": a clear message, got " + r.body());
      assertTrue(err.has("type") && err.has("param") && err.has("code"), c.name() + ": OpenAI's error shape: " + r.body());
      assertFalse(r.body().contains("Exception") || r.body().contains("\tat "), c.name() + ": no stack trace: " + r.body());
      assertFalse(message.contains("fasterxml") || message.contains("Feature."), c.name() + ": no parser internals: " + message);
    }
    HttpResponse<String> ok = server.post(CHAT, "{\"model\":\"tandem\"," + OK_MSGS + ",\"max_tokens\":5}", KEY);
    assertEquals(200, ok.statusCode(), ok.body());
    assertEquals(5, json.readTree(ok.body()).at("/usage/completion_tokens").asInt());
  }

  @Test
  void specificRefusalsSayWhatWasWrong() throws Exception {
    HttpResponse<String> big = server.post(CHAT, "{\"model\":\"tandem\",\"x\":\"" + "a".repeat(100_000) + "\"}", KEY);
    assertEquals(413, big.statusCode());
    // The limit and the setting that sets it, so that a client knows what to do (and whom to ask).
    assertTrue(big.body().contains("this server's limit (tandem.http.max-body-size)"), big.body());
    HttpResponse<String> n = server.post(CHAT, "{\"model\":\"tandem\"," + OK_MSGS + ",\"n\":2}", KEY);
    assertEquals(400, n.statusCode());
    assertTrue(n.body().contains("n = 2 is not supported"), n.body());
    HttpResponse<String> none = server.post(CHAT, "{\"model\":\"tandem\"," + OK_MSGS + ",\"n\":0}", KEY);
    assertEquals(400, none.statusCode());
    assertTrue(none.body().contains("\"message\":\"n must be at least 1, got 0\""), none.body());
    assertTrue(none.body().contains("\"param\":\"n\""), none.body());
    HttpResponse<String> unknown = server.post(CHAT, "{\"model\":\"gpt-5\"," + OK_MSGS + "}", KEY);
    assertEquals(404, unknown.statusCode());
    assertTrue(unknown.body().contains("model_not_found"), unknown.body());
    HttpResponse<String> key = server.post(CHAT, "{\"model\":\"tandem\"," + OK_MSGS + "}", "sk-nope");
    assertEquals(401, key.statusCode());
  }

  /**
   * A body over the limit is a 413 naming the setting however it came: in chunks (no Content-Length
   * to refuse it by at once) or compressed (the limit holds for what it decodes to).
   */
  @Test
  void aBodyOverTheLimitIsA413InChunksOrCompressedToo() throws Exception {
    byte[] body = ("{\"model\":\"tandem\",\"x\":\"" + "a".repeat(100_000) + "\"}").getBytes(StandardCharsets.UTF_8);
    java.net.http.HttpRequest.Builder chunked = java.net.http.HttpRequest.newBuilder(java.net.URI.create(server.base + CHAT))
        .POST(java.net.http.HttpRequest.BodyPublishers.ofInputStream(() -> new java.io.ByteArrayInputStream(body)));
    java.io.ByteArrayOutputStream zipped = new java.io.ByteArrayOutputStream();
    try (java.util.zip.GZIPOutputStream gz = new java.util.zip.GZIPOutputStream(zipped)) {
      gz.write(body);
    }
    assertTrue(zipped.size() < 64 * 1024, "compressed, the body is under the limit: " + zipped.size());
    java.net.http.HttpRequest.Builder gzip = java.net.http.HttpRequest.newBuilder(java.net.URI.create(server.base + CHAT))
        .POST(java.net.http.HttpRequest.BodyPublishers.ofByteArray(zipped.toByteArray())).header("Content-Encoding", "gzip");
    for (java.net.http.HttpRequest.Builder b : List.of(chunked, gzip)) {
      java.net.http.HttpRequest request = b.header("Content-Type", "application/json").header("Authorization", "Bearer " + KEY)
          .build();
      HttpResponse<String> r = java.net.http.HttpClient.newHttpClient().send(request, HttpResponse.BodyHandlers.ofString());
      assertEquals(413, r.statusCode(), request.headers() + ": " + r.body());
      assertTrue(r.body().contains("\"code\":\"request_too_large\""), r.body());
      assertTrue(r.body().contains("this server's limit (tandem.http.max-body-size)"), r.body());
    }
  }

  @Test
  void refusalsOfValuesNameTheValueAndWhatIsAccepted() throws Exception {
    ObjectMapper json = new ObjectMapper();
    HttpResponse<String> seed = server.post(CHAT, "{\"model\":\"tandem\"," + OK_MSGS + ",\"seed\":99999999999999999999999}", KEY);
    assertEquals(400, seed.statusCode(), seed.body());
    assertEquals("seed must be an integer between -2^63 and 2^63-1, got 99999999999999999999999",
        json.readTree(seed.body()).at("/error/message").asText());
    HttpResponse<String> ids = server.post("/v1/completions", "{\"model\":\"tandem\",\"prompt\":[1.5]}", KEY);
    assertEquals(400, ids.statusCode(), ids.body());
    assertEquals("prompt[0] is 1.5: a token-id prompt is a list of token ids, integers 0 or more, below the model's vocabulary size",
        json.readTree(ids.body()).at("/error/message").asText());
    HttpResponse<String> huge = server.post("/v1/completions", "{\"model\":\"tandem\",\"prompt\":[3000000000]}", KEY);
    assertEquals("prompt[0] is 3000000000: a token-id prompt is a list of token ids, integers 0 or more, below the model's vocabulary size",
        json.readTree(huge.body()).at("/error/message").asText(), huge.body());
    HttpResponse<String> nested = server.post("/v1/completions", "{\"model\":\"tandem\",\"prompt\":[[7,-1]]}", KEY);
    assertEquals("prompt[0][1] is -1: a token-id prompt is a list of token ids, integers 0 or more, below the model's vocabulary size",
        json.readTree(nested.body()).at("/error/message").asText(), nested.body());
    HttpResponse<String> role = server.post(CHAT, "{\"model\":\"tandem\",\"messages\":[{\"role\":\"wizard\",\"content\":\"hi\"}]}", KEY);
    assertEquals(400, role.statusCode(), role.body());
    assertEquals("messages[0].role is 'wizard'; it must be system, developer (taken as system), user or assistant",
        json.readTree(role.body()).at("/error/message").asText());
    HttpResponse<String> developer = server.post(CHAT,
        "{\"model\":\"tandem\",\"messages\":[{\"role\":\"developer\",\"content\":\"be brief\"},{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":2}", KEY);
    assertEquals(200, developer.statusCode(), "the roles listed are accepted: " + developer.body());
    for (String topP : new String[] {"0", "1.01"}) {
      HttpResponse<String> p = server.post(CHAT, "{\"model\":\"tandem\"," + OK_MSGS + ",\"top_p\":" + topP + "}", KEY);
      assertEquals("top_p must be greater than 0 and at most 1, got " + topP, json.readTree(p.body()).at("/error/message").asText());
    }
    // Health and metrics are read with GET (as vLLM's); another method gets OpenAI's 405, not a 200.
    for (String path : new String[] {"/health", "/health/ready", "/metrics"}) {
      HttpResponse<String> post = server.post(path, "{}", KEY);
      assertEquals(405, post.statusCode(), path + ": " + post.body());
      assertEquals("invalid_request_error", json.readTree(post.body()).at("/error/type").asText(), post.body());
      assertEquals(200, server.get(path).statusCode(), path);
    }
  }

  /**
   * JSON between systems is UTF-8 (RFC 8259, section 8.1): a body in another encoding (Latin-1's
   * "café") is a 400 naming the first byte that is not UTF-8, not a prompt with U+FFFD in that
   * byte's place; vLLM's server (FastAPI) refuses it too. A UTF-8 byte order mark, which that
   * section lets a parser ignore and Python's {@code json.loads} ignores, is ignored.
   */
  @Test
  void aBodyThatIsNotUtf8IsA400NamingTheByteAndAByteOrderMarkIsIgnored() throws Exception {
    ObjectMapper json = new ObjectMapper();
    String body = "{\"model\":\"tandem\",\"messages\":[{\"role\":\"user\",\"content\":\"café\"}],\"max_tokens\":2}";
    HttpResponse<String> latin1 = server.post(CHAT, body.getBytes(StandardCharsets.ISO_8859_1), KEY);
    assertEquals(400, latin1.statusCode(), latin1.body());
    assertEquals("the request body is not UTF-8: the byte 0xE9 at offset " + body.indexOf('é') + " cannot stand there in"
        + " UTF-8 text; send the JSON encoded as UTF-8 (RFC 8259, section 8.1)",
        json.readTree(latin1.body()).at("/error/message").asText());
    byte[] utf8 = body.getBytes(StandardCharsets.UTF_8);
    HttpResponse<String> truncated = server.post(CHAT, java.util.Arrays.copyOf(utf8, body.indexOf('é') + 1), KEY);
    assertTrue(json.readTree(truncated.body()).at("/error/message").asText().startsWith(
        "the request body is not UTF-8: the byte 0xC3 at offset " + body.indexOf('é') + " "), truncated.body());
    byte[] withBom = new byte[utf8.length + 3];
    withBom[0] = (byte) 0xEF;
    withBom[1] = (byte) 0xBB;
    withBom[2] = (byte) 0xBF;
    System.arraycopy(utf8, 0, withBom, 3, utf8.length);
    HttpResponse<String> bom = server.post(CHAT, withBom, KEY);
    assertEquals(200, bom.statusCode(), bom.body());
  }

  /**
   * A JSON escape of a lone UTF-16 surrogate ({@code "\\ud800"}) is valid JSON but no character:
   * a 400 naming the value's path, not a prompt whose tokenizer reads something else in its place; a
   * pair of escapes is the character it encodes.
   */
  @Test
  void aLoneSurrogateEscapeIsA400NamingWhereItIs() throws Exception {
    ObjectMapper json = new ObjectMapper();
    String[][] cases = {
        {"{\"messages\":[{\"role\":\"user\",\"content\":\"x\\ud800\"}],\"max_tokens\":2}", "messages[0].content"},
        {"{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"\\udc00y\"}]}],\"max_tokens\":2}",
            "messages[0].content[0].text"},
        {"{" + OK_MSGS + ",\"stop\":[\"a\",\"\\ud83d\"],\"max_tokens\":2}", "stop[1]"},
        {"{" + OK_MSGS + ",\"user\":\"\\ude00\\ud83d\",\"max_tokens\":2}", "user"},
        {"{" + OK_MSGS + ",\"max_tokens\":2,\"a\\ud800\":1}", "a\\ud800"}};
    for (String[] c : cases) {
      HttpResponse<String> r = server.post(CHAT, c[0], KEY);
      assertEquals(400, r.statusCode(), c[0] + " -> " + r.body());
      assertEquals(c[1], json.readTree(r.body()).at("/error/param").asText(), r.body());
      assertTrue(json.readTree(r.body()).at("/error/message").asText().startsWith(c[1] + " holds a lone UTF-16 surrogate"), r.body());
    }
    HttpResponse<String> pair = server.post(CHAT, "{\"messages\":[{\"role\":\"user\",\"content\":\"x\\ud83d\\ude00\"}],"
        + "\"max_tokens\":2}", KEY);
    assertEquals(200, pair.statusCode(), pair.body());
    // A long member name is clipped as an unknown field's is: the answer does not echo the body back.
    HttpResponse<String> longName = server.post(CHAT, "{" + OK_MSGS + ",\"metadata\":{\"" + "k".repeat(20_000) + "\\ud800\":1}}", KEY);
    assertEquals(400, longName.statusCode(), longName.body());
    assertTrue(longName.body().length() < 2_000, longName.body().length() + " characters");
    assertTrue(json.readTree(longName.body()).at("/error/param").asText().startsWith("metadata.kkk"), longName.body());
  }

  /** max_tokens beyond any integer type is refused as any value above the server's cap is: naming the cap. */
  @Test
  void maxTokensAboveTheServersCapIsRefusedNamingTheCapHoweverLargeItIs() throws Exception {
    ObjectMapper json = new ObjectMapper();
    for (String field : new String[] {"max_tokens", "max_completion_tokens"}) {
      for (String value : new String[] {"200000", "1000000000000", "100000000000000000000000000000"}) {
        HttpResponse<String> max = server.post(CHAT, "{\"model\":\"tandem\"," + OK_MSGS + ",\"" + field + "\":" + value + "}", KEY);
        assertEquals(400, max.statusCode(), max.body());
        assertEquals(field, json.readTree(max.body()).at("/error/param").asText(), max.body());
        assertEquals(field + " is " + value + " but this server generates at most 131072 tokens per request"
            + " (its tandem.http.max-max-tokens); ask for fewer", json.readTree(max.body()).at("/error/message").asText());
      }
    }
    HttpResponse<String> zero = server.post(CHAT, "{\"model\":\"tandem\"," + OK_MSGS + ",\"max_tokens\":0}", KEY);
    assertEquals("max_tokens must be between 1 and 131072, got 0", json.readTree(zero.body()).at("/error/message").asText());
  }

  /** As in OpenAI's API; a response's message sent back as it came (content null beside its reasoning) is accepted. */
  @Test
  void onlyAnAssistantMessageMayGoWithoutContent() throws Exception {
    ObjectMapper json = new ObjectMapper();
    for (String r : new String[] {"user", "system", "developer"}) {
      HttpResponse<String> none = server.post(CHAT, "{\"model\":\"tandem\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},"
          + "{\"role\":\"" + r + "\",\"content\":null}]}", KEY);
      assertEquals(400, none.statusCode(), none.body());
      assertEquals("messages[1].content", json.readTree(none.body()).at("/error/param").asText(), none.body());
      assertEquals("messages[1].content is null; a " + r + " message needs content: a string or an array of text parts",
          json.readTree(none.body()).at("/error/message").asText());
    }
    HttpResponse<String> missing = server.post(CHAT, "{\"model\":\"tandem\",\"messages\":[{\"role\":\"user\"}]}", KEY);
    assertEquals("messages[0].content is missing; a user message needs content: a string or an array of text parts",
        json.readTree(missing.body()).at("/error/message").asText(), missing.body());
    HttpResponse<String> untyped = server.post(CHAT, "{\"model\":\"tandem\",\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"hi\"}]}]}", KEY);
    assertEquals(400, untyped.statusCode(), untyped.body());
    assertEquals("messages[0].content[0] has no type; a content part is {\"type\": \"text\", \"text\": ...}",
        json.readTree(untyped.body()).at("/error/message").asText(), untyped.body());
    HttpResponse<String> assistant = server.post(CHAT, "{\"model\":\"tandem\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},"
        + "{\"role\":\"assistant\",\"content\":null,\"reasoning_content\":\"...\"},{\"role\":\"user\",\"content\":\"go on\"}],"
        + "\"max_tokens\":2}", KEY);
    assertEquals(200, assistant.statusCode(), "an assistant message may have null content: " + assistant.body());
  }

  /** logprobs is a boolean on chat and an integer on completions: each refusal says what its endpoint takes. */
  @Test
  void aLogprobsRefusalSaysWhatItsEndpointTakes() throws Exception {
    ObjectMapper json = new ObjectMapper();
    HttpResponse<String> chatLogprobs = server.post(CHAT, "{\"model\":\"tandem\"," + OK_MSGS + ",\"logprobs\":true}", KEY);
    assertEquals("logprobs = true is not supported (Tandem returns no token probabilities); leave it out or send false",
        json.readTree(chatLogprobs.body()).at("/error/message").asText());
    for (String value : new String[] {"3", "0", "true"}) {
      HttpResponse<String> lp = server.post("/v1/completions", "{\"model\":\"tandem\",\"prompt\":\"hi\",\"logprobs\":" + value + "}", KEY);
      assertEquals(400, lp.statusCode(), lp.body());
      assertEquals("logprobs = " + value + " is not supported (Tandem returns no token probabilities; on /v1/completions this"
          + " field is an integer, and even 0 asks for the sampled token's); leave it out or send null (or false)",
          json.readTree(lp.body()).at("/error/message").asText());
    }
    HttpResponse<String> lpFalse = server.post("/v1/completions", "{\"model\":\"tandem\",\"prompt\":\"hi\",\"logprobs\":false,"
        + "\"max_tokens\":2}", KEY);
    assertEquals(200, lpFalse.statusCode(), "false asks for nothing: " + lpFalse.body());
  }
}
