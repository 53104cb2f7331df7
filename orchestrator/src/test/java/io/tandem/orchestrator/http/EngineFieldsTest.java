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
 * vLLM's extension fields on {@code /v1/completions}, which let one Tandem serve as another's engine:
 * stop strings kept in the output, token ids returned (streamed and whole), {@code stop_reason},
 * and {@code skip_special_tokens: false} only where the ids carry the special tokens.
 */
class EngineFieldsTest {
  static final String KEY = "sk-engine";
  static final ObjectMapper JSON = new ObjectMapper();
  @RegisterExtension
  static final TestServer server = TestServer.start("tandem.http.api-keys = [{key = \"" + KEY + "\", tenant = t}]\n"
      + "tandem.http.default-mode = small\n");

  static HttpResponse<String> complete(String fields) throws Exception {
    return server.post("/v1/completions", "{\"prompt\":\"Once\",\"max_tokens\":30,\"temperature\":0" + fields + "}", KEY);
  }

  static List<Integer> ids(JsonNode a) {
    List<Integer> out = new ArrayList<>();
    a.forEach(n -> out.add(n.asInt()));
    return out;
  }

  @Test
  void theStopStringStaysInTheOutputWhenAskedAndTheTokenIdsComeBack() throws Exception {
    JsonNode kept = JSON.readTree(complete(",\"stop\":[\" me\"],\"include_stop_str_in_output\":true,\"return_token_ids\":true,"
        + "\"skip_special_tokens\":false").body());
    JsonNode choice = kept.path("choices").get(0);
    assertEquals("Let me", choice.path("text").asText(), kept.toString());
    assertEquals("stop", choice.path("finish_reason").asText());
    assertEquals(" me", choice.path("stop_reason").asText(), "vLLM's stop_reason names the stop string");
    assertEquals(kept.path("usage").path("completion_tokens").asInt(), choice.path("token_ids").size(),
        "one id per output token, through the one that completed the stop string");
    assertEquals("small", kept.path("tandem").path("mode").asText(), "tandem.http.default-mode");

    JsonNode cut = JSON.readTree(complete(",\"stop\":[\" me\"]").body()).path("choices").get(0);
    assertEquals("Let", cut.path("text").asText(), "without it the stop string is cut, as OpenAI does");
    assertFalse(cut.has("token_ids"));
    JsonNode sglang = JSON.readTree(complete(",\"stop\":[\" me\"],\"no_stop_trim\":true").body()).path("choices").get(0);
    assertEquals("Let me", sglang.path("text").asText(), "SGLang's name for the same");
  }

  @Test
  void aStreamCarriesEachChunksIdsThePromptIdsFirstAndTheStopReasonLast() throws Exception {
    JsonNode whole = JSON.readTree(complete(",\"return_token_ids\":true").body()).path("choices").get(0);
    List<Integer> prompt = ids(whole.path("token_ids")).subList(0, 3);
    String body = "{\"prompt\":" + prompt + ",\"max_tokens\":12,\"temperature\":0,\"stream\":true,\"return_token_ids\":true,"
        + "\"stop\":[\"verify\"],\"include_stop_str_in_output\":true}";
    String sse = server.post("/v1/completions", body, KEY).body();
    List<Integer> streamed = new ArrayList<>();
    JsonNode first = null;
    JsonNode last = null;
    StringBuilder text = new StringBuilder();
    for (String line : sse.split("\n")) {
      if (!line.startsWith("data: {")) continue;
      JsonNode c = JSON.readTree(line.substring(6)).path("choices").get(0);
      if (c == null) continue;
      if (first == null) first = c;
      last = c;
      streamed.addAll(ids(c.path("token_ids")));
      text.append(c.path("text").asText());
    }
    assertEquals(prompt, ids(first.path("prompt_token_ids")), "the first chunk echoes the prompt's ids, as vLLM's");
    assertTrue(text.toString().endsWith("verify"), text.toString());
    assertEquals("verify", last.path("stop_reason").asText());
    assertFalse(streamed.isEmpty());
    assertEquals(JSON.readTree(server.post("/v1/completions", body.replace("\"stream\":true,", ""), KEY).body())
        .path("choices").get(0).path("token_ids"), JSON.valueToTree(streamed), "the stream's ids are the whole answer's");
  }

  @Test
  void specialTokensTextIsNotWrittenSoSkipSpecialTokensFalseNeedsTheIds() throws Exception {
    HttpResponse<String> r = complete(",\"skip_special_tokens\":false");
    assertEquals(400, r.statusCode());
    JsonNode e = JSON.readTree(r.body()).path("error");
    assertEquals("skip_special_tokens", e.path("param").asText());
    assertTrue(e.path("message").asText().contains("return_token_ids"), e.toString());
    HttpResponse<String> both = complete(",\"include_stop_str_in_output\":true,\"no_stop_trim\":false");
    assertEquals(400, both.statusCode(), "the two names of one field must agree");
  }

  /** The prompt's ids as {@code /tokenize} reads {@code body}'s prompt or messages. */
  static List<Integer> tokenized(String body) throws Exception {
    return ids(JSON.readTree(server.post("/tokenize", body, KEY).body()).path("tokens"));
  }

  /** The SSE events' objects. */
  static List<JsonNode> events(String sse) throws Exception {
    List<JsonNode> out = new ArrayList<>();
    for (String line : sse.split("\n")) if (line.startsWith("data: {")) out.add(JSON.readTree(line.substring(6)));
    return out;
  }

  @Test
  void aTextPromptsIdsComeBackAsTheModelReadThem() throws Exception {
    List<Integer> prompt = tokenized("{\"prompt\":\"Once\"}");
    assertFalse(prompt.isEmpty());
    JsonNode whole = JSON.readTree(complete(",\"return_token_ids\":true").body()).path("choices").get(0);
    assertEquals(prompt, ids(whole.path("prompt_token_ids")), whole.toString());
    List<JsonNode> chunks = events(complete(",\"return_token_ids\":true,\"stream\":true").body());
    assertEquals(prompt, ids(chunks.get(0).path("choices").get(0).path("prompt_token_ids")), "on the first chunk");
    assertEquals(1, chunks.stream().filter(c -> c.path("choices").path(0).has("prompt_token_ids")).count(), "once");
  }

  @Test
  void aChatAnswerHasItsPromptsIdsBesideItsChoicesAndEachChoiceItsOwn() throws Exception {
    String messages = "\"messages\":[{\"role\":\"user\",\"content\":\"Compute 2 + 2.\"}]";
    List<Integer> prompt = tokenized("{" + messages + "}");
    String body = "{" + messages + ",\"max_tokens\":12,\"temperature\":0,\"return_token_ids\":true";
    JsonNode whole = JSON.readTree(server.post("/v1/chat/completions", body + "}", KEY).body());
    assertEquals(prompt, ids(whole.path("prompt_token_ids")), "vLLM's ChatCompletionResponse.prompt_token_ids: " + whole);
    JsonNode choice = whole.path("choices").get(0);
    assertEquals(whole.path("usage").path("completion_tokens").asInt(), choice.path("token_ids").size(), choice.toString());
    assertFalse(choice.has("prompt_token_ids"));

    List<JsonNode> chunks = events(server.post("/v1/chat/completions", body + ",\"stream\":true}", KEY).body());
    assertEquals(prompt, ids(chunks.get(0).path("prompt_token_ids")), "on the first chunk, beside its choices: " + chunks.get(0));
    assertEquals(1, chunks.stream().filter(c -> c.has("prompt_token_ids")).count(), "once");
    List<Integer> streamed = new ArrayList<>();
    chunks.forEach(c -> streamed.addAll(ids(c.path("choices").path(0).path("token_ids"))));
    assertEquals(ids(choice.path("token_ids")), streamed, "the stream's ids are the whole answer's");

    JsonNode without = JSON.readTree(server.post("/v1/chat/completions", body.replace(",\"return_token_ids\":true", "") + "}", KEY).body());
    assertFalse(without.has("prompt_token_ids") || without.path("choices").get(0).has("token_ids"), without.toString());
  }
}
