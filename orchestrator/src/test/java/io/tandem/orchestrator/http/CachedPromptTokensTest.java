package io.tandem.orchestrator.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tandem.inference.text.ChatTemplate;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.slf4j.LoggerFactory;

/**
 * {@code usage.prompt_tokens_details.cached_tokens}, as OpenAI reports it (and vLLM with {@code
 * --enable-prompt-tokens-details}): the prompt tokens a worker's prefix cache held, so not
 * prefilled. A prompt sent again is read from the cache but for the token fed for its logits.
 */
class CachedPromptTokensTest {
  static final String KEY = "sk-cached";
  static final ObjectMapper JSON = new ObjectMapper();

  /** Chat rendered one token per character, so that a prompt has many tokens. */
  @RegisterExtension
  static final TestServer server = TestServer.start("tandem.http.api-keys = [{key = \"" + KEY + "\", tenant = acme}]\n",
      new ChatTemplate("{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}<assistant>", Map.of()));

  private static JsonNode usage(String body) throws Exception {
    HttpResponse<String> r = server.post("/v1/chat/completions", body, KEY);
    assertEquals(200, r.statusCode(), r.body());
    return JSON.readTree(r.body()).get("usage");
  }

  @Test
  void aPromptSentAgainReportsItsCachedTokens() throws Exception {
    String body = "{\"messages\":[{\"role\":\"user\",\"content\":\"a prompt no other test of this server sends\"}],"
        + "\"max_tokens\":3,\"temperature\":0}";
    JsonNode first = usage(body);
    int prompt = first.get("prompt_tokens").asInt();
    assertTrue(prompt > 1, first.toString());
    assertEquals(0, first.at("/prompt_tokens_details/cached_tokens").asInt(-1), "nothing cached yet: " + first);

    Logger requests = (Logger) LoggerFactory.getLogger("tandem.http.requests");
    ListAppender<ILoggingEvent> lines = new ListAppender<>();
    lines.start();
    requests.addAppender(lines);
    HttpResponse<String> r;
    try {
      r = server.post("/v1/chat/completions", body, KEY);
      assertEquals(200, r.statusCode(), r.body());
      String id = JSON.readTree(r.body()).get("id").asText();
      JsonNode[] line = new JsonNode[1];
      TestServer.eventually("the request log's line of " + id, () -> {
        synchronized (lines) { // the appender writes under its own lock
          for (ILoggingEvent e : lines.list) {
            JsonNode o = JSON.readTree(e.getFormattedMessage());
            if (o.path("id").asText().equals(id)) line[0] = o;
          }
        }
        return line[0] != null;
      });
      assertEquals(prompt - 1, line[0].path("cached_tokens").asInt(-1), "the request log has the usage's count: " + line[0]);
    } finally {
      requests.detachAppender(lines);
    }
    JsonNode again = JSON.readTree(r.body()).get("usage");
    assertEquals(prompt - 1, again.at("/prompt_tokens_details/cached_tokens").asInt(-1),
        "all but the last prompt token, whose logits the first pass needs: " + again);

    String streamed = body.substring(0, body.length() - 1) + ",\"stream\":true,\"stream_options\":{\"include_usage\":true}}";
    HttpResponse<String> stream = server.post("/v1/chat/completions", streamed, KEY);
    assertEquals(200, stream.statusCode(), stream.body());
    JsonNode last = null;
    for (String line : stream.body().split("\n"))
      if (line.startsWith("data: {") && line.contains("\"usage\":{")) last = JSON.readTree(line.substring(6));
    assertTrue(last != null, stream.body());
    assertEquals(prompt - 1, last.at("/usage/prompt_tokens_details/cached_tokens").asInt(-1), "the stream's usage chunk too");
  }

  /**
   * A stop string ends the session before the worker's step is done (a tester saw 0 in half of such
   * answers): the step's first streamed tokens already say what of the prompt was cached.
   */
  @Test
  void anAnswerAStopStringEndsReportsItsCachedTokens() throws Exception {
    // Token ids (the scripted tokenizer's, one a character), reversed: a prompt that shares no prefix with the other test's.
    HttpResponse<String> ids = server.post("/tokenize",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"a prompt whose answer a stop string ends\"}]}", KEY);
    assertEquals(200, ids.statusCode(), ids.body());
    List<Integer> tokens = new ArrayList<>();
    JSON.readTree(ids.body()).get("tokens").forEach(t -> tokens.add(0, t.asInt()));
    String prompt = "\"prompt\":" + tokens;
    HttpResponse<String> r = server.post("/v1/completions", "{" + prompt + ",\"max_tokens\":8}", KEY);
    assertEquals(200, r.statusCode(), r.body());
    JsonNode whole = JSON.readTree(r.body());
    String text = whole.at("/choices/0/text").asText();
    assertTrue(text.length() > 2, r.body());
    int promptTokens = whole.at("/usage/prompt_tokens").asInt();
    assertEquals(tokens.size(), promptTokens, r.body());
    String stop = JSON.writeValueAsString(text.substring(1, 2));
    for (int i = 0; i < 10; i++) {
      HttpResponse<String> cut = server.post("/v1/completions", "{" + prompt + ",\"max_tokens\":8,\"stop\":[" + stop + "]}", KEY);
      assertEquals(200, cut.statusCode(), cut.body());
      JsonNode usage = JSON.readTree(cut.body()).get("usage");
      assertEquals(promptTokens - 1, usage.at("/prompt_tokens_details/cached_tokens").asInt(-1), "answer " + i + ": " + cut.body());
    }
  }
  /**
   * vLLM's {@code cache_salt}: a request's cache is a prefix only for requests of its tenant with
   * the same salt (it was refused as unsupported). An empty salt is refused, as vLLM refuses it.
   */
  @Test
  void aCacheSaltSharesThePrefixCacheOnlyWithTheSameSalt() throws Exception {
    String body = "{\"messages\":[{\"role\":\"user\",\"content\":\"a prompt only the salted test sends\"}],"
        + "\"max_tokens\":3,\"temperature\":0";
    JsonNode first = usage(body + ",\"cache_salt\":\"salt-a\"}");
    int prompt = first.get("prompt_tokens").asInt();
    assertEquals(0, first.at("/prompt_tokens_details/cached_tokens").asInt(-1), first.toString());
    assertEquals(prompt - 1, usage(body + ",\"cache_salt\":\"salt-a\"}").at("/prompt_tokens_details/cached_tokens").asInt(-1),
        "the same salt shares it");
    assertEquals(0, usage(body + ",\"cache_salt\":\"salt-b\"}").at("/prompt_tokens_details/cached_tokens").asInt(-1),
        "another salt does not");
    // Other tests' prompts share this one's first characters ("<user>a prompt "), not the whole prompt.
    int unsalted = usage(body + "}").at("/prompt_tokens_details/cached_tokens").asInt(-1);
    assertTrue(unsalted >= 0 && unsalted < prompt - 1, "nor does no salt: " + unsalted + " of " + prompt + " cached");
    assertEquals(prompt - 1, usage(body + ",\"cache_salt\":null}").at("/prompt_tokens_details/cached_tokens").asInt(-1),
        "null is no salt");

    HttpResponse<String> empty = server.post("/v1/chat/completions", body + ",\"cache_salt\":\"\"}", KEY);
    assertEquals(400, empty.statusCode(), empty.body());
    assertEquals("cache_salt", JSON.readTree(empty.body()).at("/error/param").asText(), empty.body());
    assertEquals("cache_salt must be a non-empty string if given; leave it out, or send null, to share the prefix cache with"
        + " the other requests of this API key's tenant", JSON.readTree(empty.body()).at("/error/message").asText());
  }
}
