package io.tandem.orchestrator.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tandem.inference.scripted.ScriptedTokenizer;
import io.tandem.inference.text.ChatTemplate;
import java.net.http.HttpResponse;
import java.util.LinkedHashMap;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The request fields a client written for vLLM sends: those Tandem implements change the answer
 * as in vLLM (the chat template's fields, {@code request_id}); the others are refused saying they
 * are vLLM's and not supported; an empty {@code stream_options} asks for nothing. The models render
 * chat with a small template, one token per character, so the rendered prompt is what {@code
 * /tokenize} then {@code /detokenize} give back, and its length the answer's {@code prompt_tokens}.
 */
class VllmRequestFieldsTest {
  static final String KEY = "sk-vllm";
  static final ObjectMapper JSON = new ObjectMapper();
  static final String TEMPLATE = "{% if tools %}<tools>{% for t in tools %}{{ t.function.name }};{% endfor %}</tools>{% endif %}"
      + "{% for m in messages %}<{{ m.role }}>{{ m.content }}</{{ m.role }}>{% endfor %}"
      + "{% if add_generation_prompt %}<assistant>"
      + "{% if enable_thinking is defined and enable_thinking is false %}<think></think>{% endif %}{% endif %}";
  static final String MESSAGES = "\"messages\":[{\"role\":\"user\",\"content\":\"2 + 2?\"},"
      + "{\"role\":\"assistant\",\"content\":\"The answer is\"}]";
  static final String CONVERSATION = "<user>2 + 2?</user><assistant>The answer is</assistant>";
  static final String TOOLS = "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
      + "\"parameters\":{\"type\":\"object\",\"properties\":{}}}}]";

  @RegisterExtension
  static final TestServer server = TestServer.start("tandem.http.api-keys = [{key = \"" + KEY + "\", tenant = acme}]\n",
      new ChatTemplate(TEMPLATE, Map.of()));

  private static HttpResponse<String> chat(String fields) throws Exception {
    return server.post("/v1/chat/completions", "{" + MESSAGES + ",\"max_tokens\":2" + fields + "}", KEY);
  }

  /** The prompt as the model reads it: /tokenize's ids, through /detokenize. */
  private static String rendered(String fields) throws Exception {
    HttpResponse<String> ids = server.post("/tokenize", "{" + MESSAGES + fields + "}", KEY);
    assertEquals(200, ids.statusCode(), ids.body());
    HttpResponse<String> text = server.post("/detokenize", "{\"tokens\":" + JSON.readTree(ids.body()).get("tokens") + "}", KEY);
    assertEquals(200, text.statusCode(), text.body());
    return JSON.readTree(text.body()).get("prompt").asText();
  }

  /** The prompt tokens of a chat completion with {@code fields}: here, the rendered prompt's length. */
  private static int promptTokens(String fields) throws Exception {
    HttpResponse<String> r = chat(fields);
    assertEquals(200, r.statusCode(), r.body());
    return JSON.readTree(r.body()).get("usage").get("prompt_tokens").asInt();
  }

  private static JsonNode error(HttpResponse<String> r) throws Exception {
    return JSON.readTree(r.body()).get("error");
  }

  @Test
  void theChatTemplateFieldsRenderThePromptAsVllmDoes() throws Exception {
    Map<String, String> cases = Map.of(
        "", CONVERSATION + "<assistant>",
        ",\"add_generation_prompt\":false", CONVERSATION,
        ",\"add_generation_prompt\":false,\"continue_final_message\":true", "<user>2 + 2?</user><assistant>The answer is",
        ",\"chat_template_kwargs\":{\"enable_thinking\":false}", CONVERSATION + "<assistant><think></think>",
        "," + TOOLS + ",\"tool_choice\":\"none\"", "<tools>get_weather;</tools>" + CONVERSATION + "<assistant>");
    for (Map.Entry<String, String> c : cases.entrySet()) {
      // The chat request's own fields, tool_choice "none" with tools included: its body tokenizes as it is.
      assertEquals(c.getValue(), rendered(c.getKey()), "/tokenize with " + c.getKey());
      assertEquals(c.getValue().length(), promptTokens(c.getKey()), "/v1/chat/completions with " + c.getKey());
    }
    assertEquals(CONVERSATION + "<assistant>", rendered(",\"tool_choice\":\"none\""), "none without tools");
    HttpResponse<String> auto = server.post("/tokenize", "{" + MESSAGES + "," + TOOLS + ",\"tool_choice\":\"auto\"}", KEY);
    assertEquals(400, auto.statusCode(), auto.body());
    assertEquals("tool_choice", error(auto).get("param").asText());
  }


  /** vLLM joins a message's text parts by a newline for a template that reads its content as a string. */
  @Test
  void aMessagesTextPartsAreJoinedByNewlinesAsVllmJoinsThem() throws Exception {
    String parts = "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"2 + 2?\"},"
        + "{\"type\":\"text\",\"text\":\"Be brief.\"}]}]";
    HttpResponse<String> ids = server.post("/tokenize", "{" + parts + "}", KEY);
    HttpResponse<String> text = server.post("/detokenize", "{\"tokens\":" + JSON.readTree(ids.body()).get("tokens") + "}", KEY);
    assertEquals("<user>2 + 2?\nBe brief.</user><assistant>", JSON.readTree(text.body()).get("prompt").asText(), text.body());
  }

  /**
   * An assistant message's refusal parts, as OpenAI's API writes a refusal (and the SDK's message
   * objects carry it back), are its text, as vLLM's chat parser reads them; another role's are a
   * 400 naming the part, as OpenAI's schema allows them only there.
   */
  @Test
  void anAssistantsRefusalPartsAreItsTextAndAnotherRolesAreRefused() throws Exception {
    String refused = "\"messages\":[{\"role\":\"user\",\"content\":\"2 + 2?\"},{\"role\":\"assistant\",\"content\":"
        + "[{\"type\":\"refusal\",\"refusal\":\"No.\"},{\"type\":\"text\",\"text\":\"Ask again.\"}]},"
        + "{\"role\":\"user\",\"content\":\"Please.\"}]";
    HttpResponse<String> ids = server.post("/tokenize", "{" + refused + "}", KEY);
    assertEquals(200, ids.statusCode(), ids.body());
    HttpResponse<String> text = server.post("/detokenize", "{\"tokens\":" + JSON.readTree(ids.body()).get("tokens") + "}", KEY);
    assertEquals("<user>2 + 2?</user><assistant>No.\nAsk again.</assistant><user>Please.</user><assistant>",
        JSON.readTree(text.body()).get("prompt").asText(), text.body());

    HttpResponse<String> user = server.post("/tokenize", "{\"messages\":[{\"role\":\"user\",\"content\":"
        + "[{\"type\":\"refusal\",\"refusal\":\"No.\"}]}]}", KEY);
    assertEquals(400, user.statusCode(), user.body());
    assertEquals("messages[0].content[0].type", error(user).get("param").asText(), user.body());
    assertTrue(error(user).get("message").asText().contains("only an assistant message may hold"), user.body());
    HttpResponse<String> noText = server.post("/tokenize", "{\"messages\":[{\"role\":\"assistant\",\"content\":"
        + "[{\"type\":\"refusal\",\"text\":\"No.\"}]}]}", KEY);
    assertEquals(400, noText.statusCode(), noText.body());
    assertEquals("messages[0].content[0].refusal", error(noText).get("param").asText(), noText.body());

    // The SDK's own form: a response's message with content null and its refusal beside it.
    HttpResponse<String> field = server.post("/tokenize", "{\"messages\":[{\"role\":\"user\",\"content\":\"2 + 2?\"},"
        + "{\"role\":\"assistant\",\"content\":null,\"refusal\":\"No.\",\"annotations\":[]},"
        + "{\"role\":\"user\",\"content\":\"Please.\"}]}", KEY);
    assertEquals(200, field.statusCode(), field.body());
    HttpResponse<String> fieldText = server.post("/detokenize", "{\"tokens\":" + JSON.readTree(field.body()).get("tokens") + "}", KEY);
    assertEquals("<user>2 + 2?</user><assistant>No.</assistant><user>Please.</user><assistant>",
        JSON.readTree(fieldText.body()).get("prompt").asText(), fieldText.body());
    HttpResponse<String> number = server.post("/tokenize", "{\"messages\":[{\"role\":\"assistant\",\"content\":\"2\",\"refusal\":5}]}", KEY);
    assertEquals(400, number.statusCode(), number.body());
    assertEquals("messages[0].refusal", error(number).get("param").asText(), number.body());
    HttpResponse<String> userField = server.post("/tokenize", "{\"messages\":[{\"role\":\"user\",\"content\":\"1\",\"refusal\":\"x\"}]}", KEY);
    assertEquals(400, userField.statusCode(), userField.body());
    assertEquals("messages[0].refusal", error(userField).get("param").asText(), userField.body());
    assertEquals(200, server.post("/tokenize", "{\"messages\":[{\"role\":\"user\",\"content\":\"1\",\"refusal\":null}]}", KEY)
        .statusCode(), "a null refusal, as a response's message carries it, on any message");
  }

  @Test
  void contradictoryOrMisplacedTemplateFieldsAreRefusedNamingThem() throws Exception {
    HttpResponse<String> both = chat(",\"continue_final_message\":true");
    assertEquals(400, both.statusCode());
    assertEquals("continue_final_message", error(both).get("param").asText());
    assertTrue(error(both).get("message").asText().contains("send add_generation_prompt: false with it"), both.body());

    HttpResponse<String> messages = chat(",\"chat_template_kwargs\":{\"messages\":[]}");
    assertEquals(400, messages.statusCode());
    assertEquals("chat_template_kwargs.messages", error(messages).get("param").asText());
    HttpResponse<String> kwargsTools = chat(",\"chat_template_kwargs\":{\"tools\":[]}");
    assertTrue(error(kwargsTools).get("message").asText().contains("give it as the request field tools"), kwargsTools.body());
    assertEquals(400, chat(",\"chat_template_kwargs\":[1]").statusCode());
    HttpResponse<String> textPrompt = server.post("/tokenize", "{\"prompt\":\"x\",\"add_generation_prompt\":false}", KEY);
    assertEquals(400, textPrompt.statusCode());
    assertTrue(error(textPrompt).get("message").asText().contains("applies to chat messages"), textPrompt.body());

    HttpResponse<String> notThere = server.post("/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"  \"}],"
        + "\"add_generation_prompt\":false,\"continue_final_message\":true}", KEY);
    assertEquals(400, notThere.statusCode(), notThere.body());
    // The request's fault, said as such: not "small cannot read the prompt: ..." from the worker (session 44's note).
    String empty = "messages[0] is empty (or only whitespace) and continue_final_message is set, so there is nothing to"
        + " continue; give it the text to continue, or leave continue_final_message out";
    assertEquals(empty, error(notThere).get("message").asText(), notThere.body());
    assertEquals("messages[0].content", error(notThere).get("param").asText());
    HttpResponse<String> tokenize = server.post("/tokenize", "{\"messages\":[{\"role\":\"user\",\"content\":\"\"}],"
        + "\"add_generation_prompt\":false,\"continue_final_message\":true}", KEY);
    assertEquals(400, tokenize.statusCode(), tokenize.body());
    assertEquals(empty, error(tokenize).get("message").asText(), tokenize.body());
  }

  /** No tokens are the empty text, as vLLM's /detokenize answers (tester45a: a 400 "must be a non-empty list"). */
  @Test
  void noTokensDetokenizeToTheEmptyText() throws Exception {
    HttpResponse<String> none = server.post("/detokenize", "{\"tokens\":[]}", KEY);
    assertEquals(200, none.statusCode(), none.body());
    assertEquals("{\"prompt\":\"\"}", none.body());
  }

  /** The empty text is no tokens, as vLLM's /tokenize counts it (session 45: a 400 "prompt is empty"). */
  @Test
  void theEmptyTextTokenizesToNoTokens() throws Exception {
    HttpResponse<String> empty = server.post("/tokenize", "{\"prompt\":\"\"}", KEY);
    assertEquals(200, empty.statusCode(), empty.body());
    assertEquals(0, JSON.readTree(empty.body()).get("count").asInt(), empty.body());
    assertEquals(0, JSON.readTree(empty.body()).get("tokens").size(), empty.body());
    assertTrue(JSON.readTree(empty.body()).get("max_model_len").asInt() > 0, empty.body());
  }

  @Test
  void toolsAreAcceptedOnlyWhenToolChoiceIsNone() throws Exception {
    HttpResponse<String> auto = chat("," + TOOLS);
    assertEquals(400, auto.statusCode());
    assertEquals("tools", error(auto).get("param").asText());
    assertTrue(error(auto).get("message").asText().contains("tool_choice \"none\""), auto.body());
    HttpResponse<String> withAuto = chat("," + TOOLS + ",\"tool_choice\":\"auto\"");
    assertEquals(400, withAuto.statusCode());
    // Not "leave it out", which beside tools is refused in its turn (tester47b).
    assertTrue(error(withAuto).get("message").asText().endsWith("send \"none\" (a request with tools needs it), or leave tools"
        + " and tool_choice out"), withAuto.body());
    HttpResponse<String> notATool = chat(",\"tools\":[{\"type\":\"function\"}],\"tool_choice\":\"none\"");
    assertEquals(400, notATool.statusCode());
    assertEquals("tools[0]", error(notATool).get("param").asText());
  }

  @Test
  void vllmFieldsTandemDoesNotImplementAreRefusedAsSuchAndUnknownOnesAsUnrecognized() throws Exception {
    for (String f : List.of("\"guided_json\":{\"type\":\"object\"}", "\"priority\":3", "\"use_beam_search\":true")) {
      HttpResponse<String> r = chat("," + f);
      assertEquals(400, r.statusCode(), f);
      String name = f.substring(1, f.indexOf('"', 1));
      assertEquals(name, error(r).get("param").asText());
      assertEquals("unsupported_parameter", error(r).get("code").asText());
      assertTrue(error(r).get("message").asText().startsWith(name + " is one of vLLM's extensions that Tandem does not support"), r.body());
    }
    for (String f : List.of("\"priority\":0", "\"guided_json\":null", "\"use_beam_search\":false"))
      assertEquals(200, chat("," + f).statusCode(), f + " asks for nothing");
    HttpResponse<String> foo = chat(",\"foo\":1");
    assertEquals(400, foo.statusCode());
    assertTrue(error(foo).get("message").asText().startsWith("unrecognized request argument"), foo.body());
    HttpResponse<String> misspelt = chat(",\"max_token\":5");
    assertEquals("unrecognized request argument supplied to /v1/chat/completions: max_token (did you mean max_tokens?)",
        error(misspelt).get("message").asText());
    for (String f : List.of("mode", "max_target_tokens", "time_out"))
      assertTrue(error(chat(",\"" + f + "\":1")).get("message").asText().endsWith("(did you mean tandem." + f + "? Tandem's own"
          + " settings go in the tandem object: \"tandem\": {\"" + f + "\": ...})"), f);
    // A name as long as the body allows is shortened in the answer, as long values are, not echoed whole.
    String longName = "x".repeat(200_000);
    for (String f : List.of("\"" + longName + "\":1", "\"stream\":true,\"stream_options\":{\"" + longName + "\":1}",
        "\"tandem\":{\"" + longName + "\":1}")) {
      HttpResponse<String> r = chat("," + f);
      assertEquals(400, r.statusCode(), r.body().substring(0, Math.min(300, r.body().length())));
      assertTrue(r.body().length() < 1_000, "an answer of " + r.body().length() + " characters");
      assertTrue(error(r).get("param").asText().endsWith("..."), error(r).get("param").asText());
    }
    // A long value of the wrong type in the tandem object, as elsewhere.
    for (String key : List.of("max_target_tokens", "begin_token_num", "choose_large", "TRIGGER_TOKENS")) {
      HttpResponse<String> r = chat(",\"tandem\":{\"" + key + "\":\"" + longName + "\"}");
      assertEquals(400, r.statusCode(), key);
      assertTrue(r.body().length() < 1_000, key + ": an answer of " + r.body().length() + " characters");
    }
  }

  /**
   * What SDKs and vLLM clients send at values that ask for nothing is accepted on chat too: vLLM's
   * chat request has {@code echo}, {@code best_of}, {@code include_reasoning} ({@code cache_salt}, taken
   * at any value, is CachedPromptTokensTest's);
   * the OpenAI SDK types {@code prompt_cache_key}, {@code safety_identifier}, {@code verbosity} and
   * {@code stream_options.include_obfuscation}. A value that asks for something is refused naming it.
   */
  @Test
  void fieldsClientsSendAtTheirDefaultsAreAcceptedOnChatAndOtherValuesNamed() throws Exception {
    for (String f : List.of("\"echo\":false", "\"best_of\":null", "\"best_of\":1", "\"include_reasoning\":true",
        "\"cache_salt\":null", "\"cache_salt\":\"s\"", "\"prompt_cache_key\":\"user-7\"", "\"prompt_cache_retention\":\"24h\"",
        "\"safety_identifier\":\"u-1\"", "\"verbosity\":\"medium\"",
        "\"stream\":true,\"stream_options\":{\"include_usage\":true,\"include_obfuscation\":false}"))
      assertEquals(200, chat("," + f).statusCode(), f + " asks for nothing");
    Map<String, String> refused = Map.of(
        "\"echo\":true", "echo",
        "\"include_reasoning\":false", "include_reasoning",
        "\"verbosity\":\"low\"", "verbosity",
        "\"stream\":true,\"stream_options\":{\"include_obfuscation\":true}", "stream_options.include_obfuscation");
    for (Map.Entry<String, String> f : refused.entrySet()) {
      HttpResponse<String> r = chat("," + f.getKey());
      assertEquals(400, r.statusCode(), f.getKey());
      assertEquals(f.getValue(), error(r).get("param").asText(), r.body());
      assertEquals("unsupported_parameter", error(r).get("code").asText(), r.body());
    }
  }

  /**
   * A field Tandem ignores is still of the type OpenAI's API gives it: a value of another type is a
   * client's mistake, named (they were accepted at any value; a tester's {@code "store": "yes"} got a 200).
   */
  @Test
  void anIgnoredFieldOfTheWrongTypeIsNamedAsOpenAisApiNamesIt() throws Exception {
    assertEquals(200, chat(",\"store\":false,\"parallel_tool_calls\":true,\"metadata\":{\"k\":\"v\"},\"service_tier\":\"auto\","
        + "\"reasoning_effort\":\"low\",\"prompt_cache_key\":null").statusCode());
    Map<String, String> refused = Map.of(
        "\"store\":\"yes\"", "store must be true or false, got a string (\"yes\")",
        "\"parallel_tool_calls\":\"maybe\"", "parallel_tool_calls must be true or false, got a string (\"maybe\")",
        "\"metadata\":\"notanobject\"", "metadata must be an object, got a string (\"notanobject\")",
        "\"service_tier\":1", "service_tier must be a string, got an integer (1)",
        "\"reasoning_effort\":[\"low\"]", "reasoning_effort must be a string, got an array");
    for (Map.Entry<String, String> f : refused.entrySet()) {
      HttpResponse<String> r = chat("," + f.getKey());
      assertEquals(400, r.statusCode(), f.getKey());
      assertEquals(f.getValue(), error(r).get("message").asText(), r.body());
      assertEquals(f.getKey().substring(1, f.getKey().indexOf('"', 1)), error(r).get("param").asText(), r.body());
    }
  }

  /**
   * A field accepted only at the value that asks for nothing, given a value of another type, is a
   * mistake in the request: a 400 naming the type the field takes, not one calling the value
   * unsupported. A whole number written with a fraction is an integer, as it is for max_tokens.
   */
  @Test
  void aFieldOfTheWrongTypeIsRefusedNamingTheTypeItTakes() throws Exception {
    Map<String, String> wrongType = new LinkedHashMap<>();
    wrongType.put("\"best_of\":\"1\"", "best_of must be an integer, got a string (\"1\")");
    wrongType.put("\"best_of\":1.5", "best_of must be an integer, got a number (1.5)");
    wrongType.put("\"echo\":\"false\"", "echo must be true or false, got a string (\"false\")");
    wrongType.put("\"n\":[1]", "n must be an integer, got an array");
    wrongType.put("\"presence_penalty\":\"0\"", "presence_penalty must be a number, got a string (\"0\")");
    wrongType.put("\"logit_bias\":[]", "logit_bias must be an object, got an array");
    wrongType.put("\"priority\":\"0\"", "priority must be an integer, got a string (\"0\")");
    wrongType.put("\"use_beam_search\":0", "use_beam_search must be true or false, got an integer (0)");
    for (Map.Entry<String, String> f : wrongType.entrySet()) {
      HttpResponse<String> r = chat("," + f.getKey());
      assertEquals(400, r.statusCode(), f.getKey());
      assertEquals("invalid_request_error", error(r).get("type").asText(), r.body());
      assertTrue(error(r).path("code").isNull() || error(r).path("code").isMissingNode(), "a mistake, not an unsupported parameter: " + r.body());
      assertEquals(f.getValue(), error(r).get("message").asText(), r.body());
      assertEquals(f.getKey().substring(1, f.getKey().indexOf('"', 1)), error(r).get("param").asText(), r.body());
    }
    HttpResponse<String> logprobs = server.post("/v1/completions", "{\"prompt\":\"Once\",\"logprobs\":\"3\"}", KEY);
    assertEquals("logprobs must be an integer, got a string (\"3\")", error(logprobs).get("message").asText(), logprobs.body());
    for (String f : List.of("\"best_of\":1.0", "\"n\":1.0", "\"presence_penalty\":0.0", "\"top_logprobs\":0"))
      assertEquals(200, chat("," + f).statusCode(), f + " is the value that asks for nothing");
  }

  /**
   * A value of the right type that asks for what Tandem does not do is refused saying why, in words
   * that do not repeat the field's name (the message begins with it).
   */
  @Test
  void anUnsupportedValueIsRefusedForAReasonThatDoesNotRepeatTheFieldsName() throws Exception {
    Map<String, String> refused = new LinkedHashMap<>();
    refused.put("\"best_of\":2", "best_of = 2 is not supported (Tandem generates one sequence per request); leave it out or send 1");
    refused.put("\"echo\":true", "echo = true is not supported (the answer holds the completion only, not the prompt); leave it"
        + " out or send false");
    for (String f : List.of("\"min_tokens\":3", "\"ignore_eos\":true", "\"logit_bias\":{\"5\":1}", "\"min_p\":0.1",
        "\"logprobs\":true", "\"top_logprobs\":2", "\"bad_words\":[\"x\"]", "\"use_beam_search\":true"))
      refused.put(f, null);
    for (Map.Entry<String, String> f : refused.entrySet()) {
      HttpResponse<String> r = chat("," + f.getKey());
      assertEquals(400, r.statusCode(), f.getKey());
      assertEquals("unsupported_parameter", error(r).get("code").asText(), r.body());
      String name = f.getKey().substring(1, f.getKey().indexOf('"', 1));
      String message = error(r).get("message").asText();
      if (f.getValue() != null) assertEquals(f.getValue(), message);
      assertTrue(message.startsWith(name + " "), message);
      assertEquals(1, Pattern.compile("(?<![a-z_])" + name + "(?![a-z_])").matcher(message).results().count(),
          "the field is named once: " + message);
    }
    HttpResponse<String> suffix = server.post("/v1/completions", "{\"prompt\":\"Once\",\"suffix\":\"end\"}", KEY);
    assertEquals("suffix = \"end\" is not supported (Tandem does not write text to fit before a suffix); leave it out or send"
        + " \"\"", error(suffix).get("message").asText(), suffix.body());
  }

  /**
   * vLLM's stop_token_ids: the output ends with the first token of one of them, counted, and names
   * it; its text is left out, as vLLM's detokenizer leaves it, unless include_stop_str_in_output.
   */
  @Test
  void aStopTokenIdEndsTheOutputWithThatTokenWhoseTextIsLeftOutUnlessAsked() throws Exception {
    String token = TestServer.SMALL.get(5);
    int first = TestServer.SMALL.indexOf(token);
    int id = ScriptedTokenizer.idOf(token);
    for (String endpoint : List.of("/v1/chat/completions", "/v1/completions")) {
      List<String> texts = new ArrayList<>();
      for (boolean include : new boolean[] {false, true}) {
        String prompt = endpoint.contains("chat") ? MESSAGES : "\"prompt\":\"Once\"";
        HttpResponse<String> r = server.post(endpoint, "{" + prompt + ",\"max_tokens\":100,\"stop_token_ids\":[" + id + "],"
            + "\"include_stop_str_in_output\":" + include + ",\"tandem\":{\"mode\":\"small\"}}", KEY);
        JsonNode body = JSON.readTree(r.body());
        JsonNode choice = body.get("choices").get(0);
        assertEquals(first + 1, body.get("usage").get("completion_tokens").asInt(), r.body());
        assertEquals("stop", choice.get("finish_reason").asText());
        assertEquals(id, choice.get("stop_reason").asInt());
        assertTrue(choice.get("stop_reason").isInt(), "an id, as vLLM writes it");
        String text = endpoint.contains("chat") ? choice.get("message").get("content").asText() : choice.get("text").asText();
        texts.add(text);
        StringBuilder spans = new StringBuilder();
        for (JsonNode span : body.at("/tandem/spans")) spans.append(span.get("text").asText());
        assertEquals(text, spans.toString(), "the spans cover the text as cut: " + r.body());
      }
      assertEquals(String.join("", TestServer.SMALL.subList(0, first + 1)), texts.get(0) + token, endpoint + ": without the stop token's text");
      assertEquals(texts.get(0) + token, texts.get(1), endpoint + ": with it");
    }
    HttpResponse<String> bad = chat(",\"stop_token_ids\":[-1]");
    assertEquals(400, bad.statusCode());
    assertEquals("stop_token_ids[0]", error(bad).get("param").asText());
  }

  /**
   * A stop token's text is left out before stop strings are looked for (vLLM's detokenizer), so a
   * stop string inside it does not end the output there: the token does, named by its id; kept with
   * include_stop_str_in_output, its text is searched and the stop string ends it. The spans cover
   * the text as cut, not the trace's steps with the token's text.
   */
  @Test
  void aStopTokenEndsTheOutputBeforeAStopStringInItsOwnText() throws Exception {
    String token = TestServer.SMALL.get(2);
    String before = String.join("", TestServer.SMALL.subList(0, 2));
    String stop = token.strip().substring(0, 3);
    assertFalse(before.contains(stop), "the stop string is only in the stop token: " + before);
    int id = ScriptedTokenizer.idOf(token);
    for (boolean include : new boolean[] {false, true}) {
      HttpResponse<String> r = server.post("/v1/completions", "{\"prompt\":\"Once\",\"max_tokens\":100,\"stop_token_ids\":[" + id
          + "],\"stop\":[\"" + stop + "\"],\"include_stop_str_in_output\":" + include + ",\"tandem\":{\"mode\":\"small\"}}", KEY);
      JsonNode body = JSON.readTree(r.body());
      JsonNode choice = body.get("choices").get(0);
      String text = choice.get("text").asText();
      if (include) {
        assertEquals(before + token.substring(0, token.indexOf(stop) + stop.length()), text, r.body());
        assertEquals(stop, choice.get("stop_reason").asText(), r.body());
      } else {
        assertEquals(before, text, r.body());
        assertEquals(id, choice.get("stop_reason").asInt(), r.body());
      }
      StringBuilder spans = new StringBuilder();
      for (JsonNode span : body.at("/tandem/spans")) spans.append(span.get("text").asText());
      assertEquals(text, spans.toString(), "the spans cover the text as cut: " + r.body());
    }
  }

  @Test
  void requestIdNamesTheResponseAndTwoRequestsMaySendTheSameOne() throws Exception {
    CompletableFuture<HttpResponse<String>> first = CompletableFuture.supplyAsync(() -> {
      try {
        return chat(",\"request_id\":\"my-id-1\"");
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    });
    HttpResponse<String> second = chat(",\"request_id\":\"my-id-1\"");
    assertEquals("chatcmpl-my-id-1", JSON.readTree(second.body()).get("id").asText(), second.body());
    assertEquals("chatcmpl-my-id-1", JSON.readTree(first.get().body()).get("id").asText());
    HttpResponse<String> legacy = server.post("/v1/completions", "{\"prompt\":\"Once\",\"max_tokens\":2,\"request_id\":\"job-7\"}", KEY);
    assertEquals("cmpl-job-7", JSON.readTree(legacy.body()).get("id").asText(), legacy.body());
    HttpResponse<String> spaced = chat(",\"request_id\":\"a b\"");
    assertEquals(400, spaced.statusCode());
    assertEquals("request_id", error(spaced).get("param").asText());
    // The id goes into the X-Request-Id header and the log as it is: visible ASCII only.
    for (String notVisibleAscii : new String[] {"日本", "z\\u010d\\u010aSet-Cookie:evil=1", "tab\\tbed"}) {
      HttpResponse<String> refused = chat(",\"request_id\":\"" + notVisibleAscii + "\"");
      assertEquals(400, refused.statusCode(), notVisibleAscii + ": " + refused.body());
      assertEquals("request_id", error(refused).get("param").asText());
      assertTrue(error(refused).get("message").asText().startsWith("request_id must be 1 to 256 visible ASCII characters"),
          refused.body());
    }
  }

  @Test
  void anEmptyStreamOptionsWithoutStreamAsksForNothing() throws Exception {
    assertEquals(200, chat(",\"stream_options\":{}").statusCode());
    HttpResponse<String> usage = chat(",\"stream_options\":{\"include_usage\":true}");
    assertEquals(400, usage.statusCode());
    assertEquals("stream_options", error(usage).get("param").asText());
  }

  /** OpenAI's legacy Completions API and vLLM: max_tokens "Defaults to 16"; chat runs to the end. */
  @Test
  void aLegacyCompletionWithoutMaxTokensWritesSixteenTokens() throws Exception {
    HttpResponse<String> legacy = server.post("/v1/completions", "{\"prompt\":\"Once\",\"tandem\":{\"mode\":\"small\"}}", KEY);
    JsonNode body = JSON.readTree(legacy.body());
    assertEquals(16, body.get("usage").get("completion_tokens").asInt(), legacy.body());
    assertEquals("length", body.get("choices").get(0).get("finish_reason").asText());
    HttpResponse<String> chat = server.post("/v1/chat/completions", "{" + MESSAGES + ",\"tandem\":{\"mode\":\"small\"}}", KEY);
    assertEquals("stop", JSON.readTree(chat.body()).get("choices").get(0).get("finish_reason").asText(),
        "chat writes the whole script: " + chat.body());
    assertTrue(JSON.readTree(chat.body()).get("usage").get("completion_tokens").asInt() > TestServer.SMALL.size() / 2);
  }
}
