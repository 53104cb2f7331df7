package io.tandem.ops.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tandem.inference.LanguageModel;
import io.tandem.inference.hf.HfModel;
import io.tandem.ops.demo.DemoModels;
import io.tandem.ops.eval.EvalRunner;
import io.tandem.orchestrator.session.SessionEvent;
import io.tandem.protocol.ChatMessage;
import io.tandem.protocol.Role;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * An engine named without a tokenizer folder ({@code openai:URL?model=NAME}): the engine's own
 * tokenizer renders the chat template, tokenizes the text handed over from the other role and
 * decodes the output, through vLLM's {@code /tokenize} and {@code /detokenize}, which a Tandem
 * node serves too. The demo pair so served writes the same answers and spans as in-process
 * workers; an engine without those endpoints fails the request saying what to do.
 */
class EngineWithoutTokenizerTest {
  static final Path DEMO = DemoModels.dir();
  static final ObjectMapper JSON = new ObjectMapper();
  static final HttpClient HTTP = HttpClient.newHttpClient();

  @Test
  void theDemoPairBehindEnginesWithoutLocalTokenizersWritesTheSameAnswersAndSpansAsInProcessWorkers() throws Exception {
    int n = EngineDemoTest.PROBLEMS;
    EngineDemoTest.Run inProcess = EngineDemoTest.run(EngineDemoTest.config(DEMO.resolve("small").toString(), List.of("cpu"),
        DEMO.resolve("large").toString()), n, null);
    try (TandemEngineNode smallEngine = new TandemEngineNode("demo-small", Role.small, DEMO.resolve("small"), n);
        TandemEngineNode largeEngine = new TandemEngineNode("demo-large", Role.large, DEMO.resolve("large"), n)) {
      EngineDemoTest.Run engines = EngineDemoTest.run(EngineDemoTest.config(smallEngine.spec(), List.of("cpu"),
          largeEngine.spec()), n, null);
      int takeovers = 0;
      for (int i = 0; i < n; i++) {
        SessionEvent.Finished a = EngineDemoTest.finished(inProcess.ends().get(i));
        SessionEvent.Finished b = EngineDemoTest.finished(engines.ends().get(i));
        assertEquals(a.trace().text(), b.trace().text(), "problem " + i + "'s answer");
        assertEquals(a.trace().spans(), b.trace().spans(), "problem " + i + "'s spans: who wrote what, and why");
        assertEquals(a.trace().finishReason(), b.trace().finishReason(), "problem " + i + " ended as in process");
        takeovers += b.trace().counters().takeovers();
      }
      assertTrue(takeovers >= n / 2, "the large engine took over steps, its prompt handed over as text: " + takeovers);
    }
  }

  @Test
  void aTandemNodeTokenizesAndDetokenizesAsVllmsServerDoes() throws Exception {
    try (TandemEngineNode engine = new TandemEngineNode("demo-small", Role.small, DEMO.resolve("small"), 4);
        LanguageModel local = HfModel.load(DEMO.resolve("small"), "cpu")) {
      String root = "http://127.0.0.1:" + engine.http.port();
      String user = EvalRunner.PAPER_PROMPT.replace("{problem}", "Compute 12 + 34.");
      int[] rendered = local.renderChat(List.of(new ChatMessage("user", user)));

      JsonNode chat = post(root + "/tokenize", "{\"model\": \"demo-small\", \"messages\": [{\"role\": \"user\", \"content\": "
          + JSON.writeValueAsString(user) + "}], \"add_generation_prompt\": true, \"add_special_tokens\": false}", 200);
      assertEquals(List.of(boxed(rendered)), List.of(ids(chat.get("tokens"))), "the chat template as in process");
      assertEquals(rendered.length, chat.get("count").asInt());
      assertEquals(local.contextLength(), chat.get("max_model_len").asInt());

      JsonNode text = post(root + "/tokenize", "{\"model\": \"demo-small\", \"prompt\": \" So the answer is 46 .\"}", 200);
      int[] encoded = local.tokenizer().encode(" So the answer is 46 .");
      assertEquals(List.of(boxed(encoded)), List.of(ids(text.get("tokens"))), "text with the tokenizer's special tokens (none here), as in process");

      JsonNode back = post(root + "/detokenize", "{\"model\": \"demo-small\", \"tokens\": " + JSON.writeValueAsString(encoded) + "}", 200);
      assertEquals(" So the answer is 46 .", back.get("prompt").asText());
      // Special tokens keep their text, as vLLM's /detokenize (skip_special_tokens=False), so the text tokenizes back.
      String chatText = post(root + "/detokenize", "{\"tokens\": " + JSON.writeValueAsString(rendered) + "}", 200)
          .get("prompt").asText();
      assertTrue(chatText.contains("<|user|>"), chatText);
      assertEquals(List.of(boxed(rendered)), List.of(ids(post(root + "/tokenize", "{\"prompt\": " + JSON.writeValueAsString(chatText)
          + ", \"add_special_tokens\": false}", 200).get("tokens"))), "the chat's text tokenizes back to its ids");

      // vLLM's default for a text prompt: the tokenizer's special tokens, of which the demo's has none.
      JsonNode special = post(root + "/tokenize", "{\"prompt\": \" So the answer is 46 .\", \"add_special_tokens\": true}", 200);
      assertEquals(List.of(boxed(encoded)), List.of(ids(special.get("tokens"))), "the demo tokenizer adds no special tokens");
      JsonNode chatSpecial = post(root + "/tokenize", "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}],"
          + " \"add_special_tokens\": true}", 400);
      assertTrue(chatSpecial.path("error").path("message").asText().contains("add_special_tokens = true is not supported with messages"),
          chatSpecial.toString());
      JsonNode outside = post(root + "/detokenize", "{\"tokens\": [1, 999999]}", 400);
      assertEquals("tokens[1]", outside.path("error").path("param").asText(), outside.toString());
      assertTrue(outside.path("error").path("message").asText().startsWith("tokens[1] is token id 999999, outside"),
          "the message names the id as the request does: " + outside);
      JsonNode both = post(root + "/tokenize", "{\"prompt\": \"46\", \"messages\": [{\"role\": \"user\", \"content\": \"x\"}]}", 400);
      assertTrue(both.path("error").path("message").asText().contains("exactly one of prompt"), both.toString());
    }
  }

  @Test
  void aNodeInFrontOfSuchAnEngineReadsChatAndTokenIdPromptsThroughIt() throws Exception {
    try (TandemEngineNode engine = new TandemEngineNode("demo-small", Role.small, DEMO.resolve("small"), 4);
        TandemEngineNode front = new TandemEngineNode("front", Role.small, engine.spec(), 4)) {
      String direct = "http://127.0.0.1:" + engine.http.port();
      String through = "http://127.0.0.1:" + front.http.port();
      String chat = "{\"messages\": [{\"role\": \"user\", \"content\": \"Compute 12 + 34.\"}], \"max_tokens\": 30,"
          + " \"temperature\": 0}";
      JsonNode a = post(direct + "/v1/chat/completions", chat, 200);
      JsonNode b = post(through + "/v1/chat/completions", chat, 200);
      assertEquals(a.path("choices").get(0).path("message").path("content").asText(),
          b.path("choices").get(0).path("message").path("content").asText(), "the engine's template and text, through the front");
      assertEquals(a.path("usage").path("prompt_tokens").asInt(), b.path("usage").path("prompt_tokens").asInt(),
          "the prompt counted by the engine's tokenizer");

      JsonNode ids = post(direct + "/tokenize", "{\"prompt\": \" Step 1 : the first number is\"}", 200).get("tokens");
      String raw = "{\"prompt\": " + ids + ", \"max_tokens\": 12, \"temperature\": 0}";
      JsonNode c = post(direct + "/v1/completions", raw, 200);
      JsonNode d = post(through + "/v1/completions", raw, 200);
      assertEquals(c.path("choices").get(0).path("text").asText(), d.path("choices").get(0).path("text").asText(),
          "a token-id prompt, read through the engine's /detokenize");
      JsonNode outside = post(through + "/v1/completions", "{\"prompt\": [1, 999999], \"max_tokens\": 5}", 400);
      assertTrue(outside.path("error").path("message").asText().contains("999999"), outside.toString());
    }
  }

  @Test
  void anEngineWithoutTokenizeEndpointsFailsTheRequestSayingWhatToDo() throws Exception {
    try (LanguageModel model = HfModel.load(DEMO.resolve("small"), "cpu");
        VllmStandIn engine = new VllmStandIn("demo-small", model)) {
      String spec = "openai:" + engine.baseUrl() + "?model=demo-small";
      EngineDemoTest.Run run = EngineDemoTest.run(EngineDemoTest.config(spec, List.of("cpu"),
          DEMO.resolve("large").toString()), 1, null);
      SessionEvent end = run.ends().get(0);
      assertTrue(end instanceof SessionEvent.Failed, "the request fails: " + end);
      String message = ((SessionEvent.Failed) end).message();
      assertTrue(message.contains("/tokenize answered 404") && message.contains("tokenizer=DIR"), message);
      assertEquals(0, engine.usages.size(), "no completion was sent without the prompt's tokens");
    }
  }

  /**
   * A tokenizer that adds a BOS to a text (its tokenizer.json's post-processor, as DeepSeek-R1's
   * distills' do) gets it on a completion's text prompt and on /tokenize's, as vLLM's defaults give
   * it ({@code add_special_tokens} true), and not with {@code add_special_tokens: false}.
   */
  @Test
  void aTextPromptGetsTheTokenizersBosUnlessAddSpecialTokensIsFalse(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
    Path model = dir.resolve("bos-small");
    java.nio.file.Files.createDirectories(model);
    try (var files = java.nio.file.Files.list(DEMO.resolve("small"))) {
      for (Path f : files.toList()) java.nio.file.Files.copy(f, model.resolve(f.getFileName().toString()));
    }
    com.fasterxml.jackson.databind.node.ObjectNode tokenizer =
        (com.fasterxml.jackson.databind.node.ObjectNode) JSON.readTree(model.resolve("tokenizer.json").toFile());
    tokenizer.set("post_processor", JSON.readTree("""
        {"type": "TemplateProcessing",
         "single": [{"SpecialToken": {"id": "<|endoftext|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
         "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
         "special_tokens": {"<|endoftext|>": {"id": "<|endoftext|>", "ids": [0], "tokens": ["<|endoftext|>"]}}}"""));
    JSON.writeValue(model.resolve("tokenizer.json").toFile(), tokenizer);
    try (TandemEngineNode engine = new TandemEngineNode("bos-small", Role.small, model, 2)) {
      String root = "http://127.0.0.1:" + engine.http.port();
      String text = JSON.writeValueAsString(" So the answer is 46 .");
      Integer[] with = ids(post(root + "/tokenize", "{\"prompt\": " + text + "}", 200).get("tokens"));
      Integer[] without = ids(post(root + "/tokenize", "{\"prompt\": " + text + ", \"add_special_tokens\": false}", 200).get("tokens"));
      assertEquals(0, with[0], "the BOS first");
      assertEquals(List.of(without), List.of(with).subList(1, with.length), "then the text's own tokens");
      for (boolean add : new boolean[] {true, false}) {
        JsonNode r = post(root + "/v1/completions", "{\"prompt\": " + text + ", \"max_tokens\": 1, \"temperature\": 0,"
            + " \"return_token_ids\": true" + (add ? "" : ", \"add_special_tokens\": false") + "}", 200);
        assertEquals(List.of(add ? with : without), List.of(ids(r.at("/choices/0/prompt_token_ids"))), r.toString());
      }
      // An empty text is the BOS alone, as vLLM reads it; without the special tokens it is no prompt.
      JsonNode bosAlone = post(root + "/v1/completions", "{\"prompt\": \"\", \"max_tokens\": 1, \"temperature\": 0,"
          + " \"return_token_ids\": true}", 200);
      assertEquals(List.of(0), List.of(ids(bosAlone.at("/choices/0/prompt_token_ids"))), bosAlone.toString());
      JsonNode nothing = post(root + "/v1/completions", "{\"prompt\": \"\", \"max_tokens\": 1, \"add_special_tokens\": false}", 400);
      assertEquals("prompt", nothing.at("/error/param").asText(), nothing.toString());
    }
  }

  static JsonNode post(String url, String body, int status) throws Exception {
    HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create(url)).header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(status, r.statusCode(), url + " " + body + " -> " + r.body());
    return JSON.readTree(r.body());
  }

  static Integer[] boxed(int[] ids) {
    return java.util.Arrays.stream(ids).boxed().toArray(Integer[]::new);
  }

  static Integer[] ids(JsonNode array) {
    Integer[] out = new Integer[array.size()];
    for (int i = 0; i < out.length; i++) out[i] = array.get(i).asInt();
    return out;
  }
}
