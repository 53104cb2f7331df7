package io.tandem.orchestrator.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.typesafe.config.ConfigFactory;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A refused field's message says what was given and what is accepted, in the same words wherever
 * the same kind of field is checked: a value of the wrong type is a mistake ({@code code} null),
 * not a request for something unsupported.
 */
class RefusalWordingTest {

  private static final HttpSettings SETTINGS = HttpSettings.fromConfig(ConfigFactory.load());
  private static final String CHAT = "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]";

  private static OpenAi.Error chatRefusal(String fields) {
    return bodyRefusal(CHAT + fields + "}");
  }

  /** A chat request's body as the server's default settings read it. */
  private static CompletionRequest parse(String body) {
    return CompletionRequest.parse(Json.parseObject(body), true, new CompletionRequest.Limits(SETTINGS.modelNames(),
        SETTINGS.maxMaxTokens(), SETTINGS.speculative(), SETTINGS.defaultMode(), SETTINGS.defaultSampling()));
  }

  private static OpenAi.Error bodyRefusal(String body) {
    ApiError e = assertThrows(ApiError.class, () -> parse(body));
    assertEquals(400, e.status(), e.getMessage());
    return e.body().error();
  }

  /** The 404's message for a chat request with {@code fields} to a server that serves the model {@code tandem} alone. */
  private static String modelRefusal(String fields) {
    ApiError e = assertThrows(ApiError.class, () -> CompletionRequest.parse(Json.parseObject(CHAT + fields + "}"), true,
        new CompletionRequest.Limits(List.of("tandem"), SETTINGS.maxMaxTokens(), SETTINGS.speculative(),
            SETTINGS.defaultMode(), SETTINGS.defaultSampling())));
    assertEquals(404, e.status(), e.getMessage());
    return e.body().error().message();
  }

  private static OpenAi.Error tokenizeRefusal(String fields) {
    ApiError e = assertThrows(ApiError.class, () -> TokenizerRequest.parse(Json.parseObject("{\"prompt\":\"hi\"" + fields + "}"),
        false, SETTINGS.modelNames()));
    assertEquals(400, e.status(), e.getMessage());
    return e.body().error();
  }

  /** A content part without its text says so, and a tool call says what to send instead (tester43a). */
  @Test
  void aPartWithoutItsTextAndAToolCallSayWhatToSend() {
    assertEquals("messages[0].content[0] has no \"text\"; a content part is {\"type\": \"text\", \"text\": \"...\"}",
        bodyRefusal("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\"}]}]}").message());
    assertEquals("messages[0].content[0].text must be a string, got an integer (5)",
        bodyRefusal("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":5}]}]}").message());
    assertEquals("messages[0].tool_call_id: tool calls are not supported (the models here call no tools); send the"
        + " conversation as user and assistant text",
        bodyRefusal("{\"messages\":[{\"role\":\"user\",\"content\":\"hi\",\"tool_call_id\":\"c1\"}]}").message());
    assertEquals("messages[0].role 'tool': tool messages are not supported (the models here call no tools); send the"
        + " conversation as user and assistant text", bodyRefusal("{\"messages\":[{\"role\":\"tool\",\"content\":\"x\"}]}").message());
    // A tool message as clients send it, with its tool_call_id: refused for its role (tester45a read the field named).
    assertEquals("messages[0].role",
        bodyRefusal("{\"messages\":[{\"role\":\"tool\",\"tool_call_id\":\"x\",\"content\":\"hi\"}]}").param());
    // A null tool_call_id is none, as a client that writes every field sends it (tester43d).
    parse("{\"messages\":[{\"role\":\"user\",\"content\":\"hi\",\"tool_call_id\":null}]}");
  }

  /** A part's unknown field is a 400 as a message's is (tester52c: cache_control was taken on a part, refused on a message). */
  @Test
  void aPartsUnknownFieldIsNamed() {
    OpenAi.Error e = bodyRefusal("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"hi\","
        + "\"cache_control\":{\"type\":\"ephemeral\"}}]}]}");
    assertEquals("messages[0].content[0] has an unrecognized field 'cache_control' (a text part has type and text)", e.message());
    assertEquals("messages[0].content[0].cache_control", e.param());
  }

  @Test
  void anEmptyRequestIdIsCalledEmpty() {
    OpenAi.Error e = chatRefusal(",\"request_id\":\"\"");
    assertEquals("request_id must be 1 to 256 visible ASCII characters (! to ~: no spaces, control or non-ASCII characters),"
        + " got an empty string", e.message());
    assertEquals("request_id", e.param());
  }

  /**
   * A chat request without max_tokens may run to what fits, the context minus the prompt, as vLLM's
   * default (tester45c: it stopped at 4,096 of a 32,768-token context, a default the docs never
   * named); /v1/completions keeps OpenAI's and vLLM's 16.
   */
  @Test
  void withoutMaxTokensAChatRunsToWhatFitsAsInVllm() {
    assertEquals(0, SETTINGS.defaultMaxTokens(), "the shipped default");
    assertEquals(32_758, parse("{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}")
        .maxTokensWithin(10, 32_768, SETTINGS.chatDefaultMaxTokens()));
    CompletionRequest completion = CompletionRequest.parse(Json.parseObject("{\"prompt\":\"hi\"}"), false,
        new CompletionRequest.Limits(SETTINGS.modelNames(), SETTINGS.maxMaxTokens(), SETTINGS.speculative(),
            SETTINGS.defaultMode(), SETTINGS.defaultSampling()));
    assertEquals(16, completion.maxTokensWithin(10, 32_768, SETTINGS.chatDefaultMaxTokens()));
    // A default set is a cap.
    HttpSettings capped = HttpSettings.fromConfig(ConfigFactory.parseString("tandem.http.default-max-tokens = 4096")
        .withFallback(ConfigFactory.load()));
    assertEquals(4096, parse("{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}")
        .maxTokensWithin(10, 32_768, capped.chatDefaultMaxTokens()));
  }

  /** An empty stop string says what a stop string needs and what to do (tester45a read "a stop string must not be"). */
  @Test
  void anEmptyStopStringSaysWhatToSend() {
    assertEquals("stop[1] is empty: a stop string needs at least one character; give the text to stop at, or leave it out",
        chatRefusal(",\"stop\":[\"x\",\"\"]").message());
  }

  @Test
  void aModeThatIsNoStringSaysWhatWasGivenAndWhatIsAccepted() {
    OpenAi.Error e = chatRefusal(",\"tandem\":{\"mode\":1}");
    assertEquals("tandem.mode must be a string: speculative, small or large; got an integer (1)", e.message());
    assertEquals("tandem.mode", e.param());
    assertEquals("tandem.mode must be a string: speculative, small or large; got an array",
        chatRefusal(",\"tandem\":{\"mode\":[\"small\"]}").message());
  }

  @Test
  void aModeInTheWrongCaseSaysLowerCase() {
    assertEquals("tandem.mode is 'Small'; it must be speculative, small or large, in lower case",
        chatRefusal(",\"tandem\":{\"mode\":\"Small\"}").message());
    assertEquals("tandem.mode is 'tiny'; it must be speculative, small or large", chatRefusal(",\"tandem\":{\"mode\":\"tiny\"}").message());
  }

  @Test
  void aTandemSettingMisspeltAtTheTopLevelPointsToTheTandemObject() {
    String tail = "? Tandem's own settings go in the tandem object: \"tandem\": {\"";
    assertEquals("unrecognized request argument supplied to /v1/chat/completions: Mode (did you mean tandem.mode" + tail
        + "mode\": ...})", chatRefusal(",\"Mode\":\"small\"").message());
    assertEquals("unrecognized request argument supplied to /v1/chat/completions: timeout (did you mean tandem.time_out" + tail
        + "time_out\": ...})", chatRefusal(",\"timeout\":5").message());
    // As near a request field as a setting: both.
    assertEquals("unrecognized request argument supplied to /v1/chat/completions: modes (did you mean model, or tandem.mode"
        + tail + "mode\": ...})", chatRefusal(",\"modes\":\"small\"").message());
    assertEquals("unrecognized request argument supplied to /v1/chat/completions: temprature (did you mean temperature?)",
        chatRefusal(",\"temprature\":0.5").message());
    // A setting flattened into a top-level name.
    assertEquals("unrecognized request argument supplied to /v1/chat/completions: tandem_mode (did you mean tandem.mode" + tail
        + "mode\": ...})", chatRefusal(",\"tandem_mode\":\"small\"").message());
    assertEquals("unrecognized request argument supplied to /v1/chat/completions: tandem.max_target_tokens (tandem.max_target_tokens"
        + " is written nested: Tandem's own settings go in the tandem object, \"tandem\": {\"max_target_tokens\": ...})",
        chatRefusal(",\"tandem.max_target_tokens\":20").message());
  }

  /** Chat's fields on /v1/completions are named as chat's, as OpenAI's and vLLM's legacy API has none of them (tester59a). */
  @Test
  void chatsFieldsOnTheLegacyEndpointAreNamedAsChats() {
    for (String f : List.of("top_logprobs", "parallel_tool_calls", "tools")) {
      String body = "{\"prompt\":\"hi\",\"" + f + "\":" + (f.equals("tools") ? "[]" : f.equals("top_logprobs") ? "0" : "true") + "}";
      ApiError e = assertThrows(ApiError.class, () -> CompletionRequest.parse(Json.parseObject(body), false,
          new CompletionRequest.Limits(SETTINGS.modelNames(), SETTINGS.maxMaxTokens(), SETTINGS.speculative(),
              SETTINGS.defaultMode(), SETTINGS.defaultSampling())));
      assertEquals("unrecognized request argument supplied to /v1/completions: " + f + " (it belongs to /v1/chat/completions)",
          e.body().error().message());
    }
  }

  /** What clients carry over from Hugging Face, Anthropic's API or the OpenAI SDK's extra_body, pointed to its field here. */
  @Test
  void otherApisFieldsPointToTheirCounterparts() {
    String unknown = "unrecognized request argument supplied to /v1/chat/completions: ";
    assertEquals(unknown + "max_new_tokens (did you mean max_tokens? max_new_tokens is Hugging Face's name)",
        chatRefusal(",\"max_new_tokens\":5").message());
    assertEquals(unknown + "stop_sequences (did you mean stop? it takes a string or a list of strings)",
        chatRefusal(",\"stop_sequences\":[\"x\"]").message());
    assertEquals(unknown + "system (a system prompt is the first message: {\"role\": \"system\", \"content\": ...} in messages)",
        chatRefusal(",\"system\":\"be brief\"").message());
    assertEquals(unknown + "extra_body (extra_body is the OpenAI Python SDK's argument, whose members it sends at the top level of"
        + " the request; send them there, beside the other fields (\"tandem\": {...} too))",
        chatRefusal(",\"extra_body\":{\"tandem\":{\"mode\":\"small\"}}").message());
    OpenAi.Error model = chatRefusal(",\"tandem\":{\"model\":\"small\"}");
    assertEquals("tandem.model: did you mean tandem.mode? It chooses speculative, small or large; model, at the top level, names"
        + " the served model", model.message());
    assertEquals("tandem.model", model.param());
    assertEquals("tandem.model: which model answers is tandem.mode, given here; the served model's name (GET /v1/models) is the"
        + " top-level model, which may be left out: remove tandem.model",
        chatRefusal(",\"tandem\":{\"mode\":\"small\",\"model\":\"large\"}").message(),
        "with tandem.mode given, tandem.model is not taken for it");
    assertEquals("tandem.max_new_tokens: not one of Tandem's settings, nor a request field: did you mean max_tokens? max_new_tokens"
        + " is Hugging Face's name (request fields go at the top level of the request)",
        chatRefusal(",\"tandem\":{\"max_new_tokens\":5}").message());
    // A name with an invisible character pasted in reads as the known one: the character is named.
    assertEquals("unrecognized request argument supplied to /v1/chat/completions: <U+200B>seed (it holds U+200B, an invisible"
        + " character: remove it)", chatRefusal(",\"\u200bseed\":1").message());
    assertEquals("the model 'small' does not exist; this server serves tandem (see GET /v1/models); to have one of the pair's"
        + " models answer alone, send \"tandem\": {\"mode\": \"small\"} and leave model out", modelRefusal(",\"model\":\"small\""));
    assertEquals("the model 'small' does not exist; this server serves tandem (see GET /v1/models); which of the pair's models"
        + " answers is tandem.mode, given here: leave model out", modelRefusal(",\"model\":\"small\",\"tandem\":{\"mode\":\"small\"}"));
    assertEquals("the model 'speculative' does not exist; this server serves tandem (see GET /v1/models); the pair writing"
        + " together (speculative, the default mode) is served as tandem: send \"model\": \"tandem\" or leave model out",
        modelRefusal(",\"model\":\"speculative\""));
    assertEquals("the model 'Tandem' does not exist; this server serves tandem (see GET /v1/models); model names are matched"
        + " exactly: send \"model\": \"tandem\"", modelRefusal(",\"model\":\"Tandem\""));
    assertEquals("the model 'gpt-4o' does not exist; this server serves tandem (see GET /v1/models)",
        modelRefusal(",\"model\":\"gpt-4o\""));
  }

  @Test
  void aMessageWithoutARoleIsSaidToHaveNone() {
    assertEquals("messages[0] has no role; give it one of system, developer (taken as system), user or assistant, as {\"role\":"
        + " \"user\", \"content\": ...}", bodyRefusal("{\"messages\":[{\"content\":\"hi\"}]}").message());
    assertEquals("messages[0].role must be a string: system, developer (taken as system), user or assistant; got an integer (1)",
        bodyRefusal("{\"messages\":[{\"role\":1,\"content\":\"hi\"}]}").message());
  }

  /** A message's name is a string, as the request's user is (tester43d: name 5 was taken, user 5 refused); null is none. */
  @Test
  void aMessagesNameIsAString() {
    OpenAi.Error e = bodyRefusal("{\"messages\":[{\"role\":\"user\",\"content\":\"hi\",\"name\":5}]}");
    assertEquals("messages[0].name must be a string (the participant's name), got an integer (5)", e.message());
    assertEquals("messages[0].name", e.param());
    parse("{\"messages\":[{\"role\":\"user\",\"content\":\"hi\",\"name\":null}]}");
    parse("{\"messages\":[{\"role\":\"user\",\"content\":\"hi\",\"name\":\"ann\"}]}");
  }

  @Test
  void aRequestFieldInsideTheTandemObjectIsSentToTheTopLevel() {
    OpenAi.Error e = chatRefusal(",\"tandem\":{\"max_tokens\":5}");
    assertEquals("tandem.max_tokens: max_tokens is a request field, not one of Tandem's settings; put it at the top level of the"
        + " request, beside messages", e.message());
    assertEquals("tandem.max_tokens", e.param());
    assertEquals("tandem.messages: messages is a request field, not one of Tandem's settings; put it at the top level of the"
        + " request", chatRefusal(",\"tandem\":{\"messages\":[]}").message());
    assertEquals("tandem.stream", chatRefusal(",\"tandem\":{\"mode\":\"small\",\"stream\":true}").param());
  }

  @Test
  void aCacheSaltThatIsNoStringIsTheWrongType() {
    OpenAi.Error e = chatRefusal(",\"cache_salt\":1");
    assertEquals(new OpenAi.Error("cache_salt must be a string, got an integer", "invalid_request_error", "cache_salt", null), e);
  }

  @Test
  void tokenizesBooleansAreRefusedInChatsWords() {
    for (String value : new String[] {"1", "\"false\"", "[]"}) {
      OpenAi.Error tokenize = tokenizeRefusal(",\"add_special_tokens\":" + value);
      assertEquals(chatRefusal(",\"add_special_tokens\":" + value), tokenize, value);
      assertNull(tokenize.code(), value);
    }
    assertEquals("return_token_strs must be true or false, got a string (\"x\")",
        tokenizeRefusal(",\"return_token_strs\":\"x\"").message());
  }
}
