package io.tandem.orchestrator.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Every integer a request carries follows one rule, vLLM's (pydantic's lax mode): a number with no
 * fraction is the integer ({@code 7.0} is 7), a fraction is a 400 naming the field; a number beyond
 * a 64-bit float ({@code 1e400}) is a 400 saying it is out of range in a field that takes numbers; token ids
 * are checked against the vocabulary of the model that reads the prompt.
 */
class IntegerFieldsTest {

  private static final HttpSettings SETTINGS = HttpSettings.fromConfig(ConfigFactory.load());

  private static CompletionRequest parse(String body, boolean chat) {
    return CompletionRequest.parse(Json.parseObject(body), chat, new CompletionRequest.Limits(SETTINGS.modelNames(),
        SETTINGS.maxMaxTokens(), SETTINGS.speculative(), SETTINGS.defaultMode(), SETTINGS.defaultSampling()));
  }

  /** A completion with {@code fields} (each beginning with a comma), of "hi" unless they give the prompt. */
  private static CompletionRequest completion(String fields) {
    return parse(fields.startsWith(",\"prompt\"") ? "{" + fields.substring(1) + "}" : "{\"prompt\":\"hi\"" + fields + "}", false);
  }

  private static OpenAi.Error refusal(Runnable r) {
    ApiError e = assertThrows(ApiError.class, r::run);
    assertEquals(400, e.status(), e.getMessage());
    return e.body().error();
  }

  private static List<Integer> detokenized(String tokens) {
    return TokenizerRequest.parse(Json.parseObject("{\"tokens\":" + tokens + "}"), true, SETTINGS.modelNames()).tokens();
  }

  @Test
  void aWholeNumberWrittenWithAFractionIsTheIntegerInEveryIntegerField() {
    assertEquals(7L, completion(",\"seed\":7.0").sampling().seed());
    assertEquals(-3L, completion(",\"seed\":-3e0").sampling().seed());
    assertEquals(List.of(5, 9), completion(",\"stop_token_ids\":[5.0,9]").engine().stopTokenIds());
    assertEquals(List.of(1, 2), completion(",\"prompt\":[1.0,2]").promptTokenIds());
    assertEquals(List.of(3), parse("{\"prompt\":[[3.0]]}", false).promptTokenIds());
    assertEquals(List.of(4, 5), detokenized("[4.0,5]"));
    assertEquals(30, completion(",\"tandem\":{\"max_target_tokens\":30.0}").config().maxTargetTokens());
    assertEquals(20, completion(",\"top_k\":20.0").sampling().topK());
    assertEquals(5, completion(",\"max_tokens\":5.0").maxTokens());
    completion(",\"n\":1.0,\"best_of\":1.0");
  }

  /**
   * A null in the {@code tandem} object is the server's setting, as at the top level, except where the paper's files
   * give null a meaning of its own: no help_think_word, no time_out (tester59a: mode: null was taken, max_target_tokens:
   * null refused).
   */
  @Test
  void aNullInTheTandemObjectIsTheServersSettingUnlessNullMeansNone() {
    var server = SETTINGS.speculative();
    var nulls = completion(",\"tandem\":{\"mode\":null,\"max_target_tokens\":null,\"choose_large\":null,"
        + "\"help_recap_words\":null,\"TARGET_VALIDATION_KEYWORDS\":null}").config();
    assertEquals(server, nulls);
    var none = completion(",\"tandem\":{\"help_think_word\":null,\"time_out\":null,\"max_target_tokens\":null}").config();
    assertEquals(null, none.helpThinkWord());
    assertEquals(server.maxTargetTokens(), none.maxTargetTokens());
    // A keyword group's null is the server's group too (tester59f); an entry's null is no keyword.
    assertEquals(server, completion(",\"tandem\":{\"TARGET_VALIDATION_KEYWORDS\":{\"verify\":null}}").config());
    assertTrue(refusal(() -> completion(",\"tandem\":{\"TARGET_VALIDATION_KEYWORDS\":{\"verify\":[null]}}")).message()
        .startsWith("tandem: "));
  }

  /** A refusal shows the number in digits (or as 1E+300), never as Java writes a double (1.0E20). */
  @Test
  void aRefusedNumberIsShownAsDigitsNotAsJavaWritesADouble() {
    assertTrue(refusal(() -> completion(",\"seed\":1e20")).message().endsWith("got 100000000000000000000"));
    assertTrue(refusal(() -> completion(",\"max_tokens\":1e10")).message().startsWith("max_tokens is 10000000000 but"));
    assertTrue(refusal(() -> completion(",\"stop_token_ids\":[-4294967296.0]")).message()
        .startsWith("stop_token_ids[0] is -4294967296:"));
    assertTrue(refusal(() -> completion(",\"top_k\":-1e300")).message().endsWith("got -1E+300"));
  }

  @Test
  void aFractionIsA400NamingTheFieldAndSayingItTakesIntegers() {
    Map<String, String> refused = Map.of(
        ",\"seed\":1.5", "seed must be an integer between -2^63 and 2^63-1, got 1.5",
        ",\"stop_token_ids\":[5,1.5]", "stop_token_ids[1] is 1.5: token ids are integers 0 or more, below the model's vocabulary size",
        ",\"prompt\":[1.5]", "prompt[0] is 1.5: a token-id prompt is a list of token ids, integers 0 or more, below the model's vocabulary size",
        ",\"tandem\":{\"max_target_tokens\":30.5}", "tandem: max_target_tokens must be an integer, got 30.5",
        ",\"n\":1.5", "n must be an integer, got a number (1.5)",
        ",\"top_k\":1.5", "top_k must be an integer, got a number (1.5)",
        ",\"max_tokens\":1.5", "max_tokens must be an integer, got a number (1.5)");
    for (Map.Entry<String, String> c : refused.entrySet()) {
      OpenAi.Error e = refusal(() -> completion(c.getKey()));
      assertEquals(c.getValue(), e.message(), c.getKey());
      assertEquals("invalid_request_error", e.type(), c.getKey());
      String named = c.getValue().substring(0, c.getValue().indexOf(' '));
      assertEquals(named.equals("tandem:") ? "tandem.max_target_tokens" : named, e.param(), c.getKey());
    }
    OpenAi.Error tokens = refusal(() -> detokenized("[1.5]"));
    assertEquals("tokens[0] is 1.5: token ids are integers 0 or more, below the model's vocabulary size", tokens.message());
    assertEquals("tokens[0]", tokens.param());
    assertEquals("seed must be an integer between -2^63 and 2^63-1, got 10000000000000000000", refusal(() -> completion(",\"seed\":1e19"))
        .message(), "a whole number beyond a long is out of the seed's range");
  }

  @Test
  void aNumberBeyondAFloatsRangeIsA400SayingSoNamingItsField() {
    for (String sign : new String[] {"", "-"}) {
      for (String field : new String[] {"n", "temperature", "top_p", "top_k", "max_tokens", "seed", "presence_penalty",
          "best_of", "priority"}) {
        OpenAi.Error e = refusal(() -> completion(",\"" + field + "\":" + sign + "1e400"));
        assertEquals(field + " is a number out of range: beyond a 64-bit float's (about -1.8e308 to 1.8e308)", e.message());
        assertEquals(field, e.param());
        assertFalse(e.message().contains("Infinity"), e.message());
      }
      Map<String, String> nested = Map.of(
          ",\"stop_token_ids\":[1," + sign + "1e400]", "stop_token_ids[1]",
          ",\"prompt\":[[1," + sign + "1e400]]", "prompt[0][1]");
      for (Map.Entry<String, String> c : nested.entrySet()) {
        OpenAi.Error e = refusal(() -> completion(c.getKey()));
        assertTrue(e.message().startsWith(c.getValue() + " is a number out of range"), e.message());
        assertEquals(c.getValue(), e.param());
      }
      assertEquals("tokens[0]", refusal(() -> detokenized("[" + sign + "1e400]")).param());
    }
  }

  /**
   * An error's {@code param} is the path of the value at fault, as the message names it and as
   * OpenAI's API writes it ({@code messages[1].content}): an element's path for an element, whether
   * its type or its range is wrong.
   */
  @Test
  void theParamOfARefusedElementIsThePathTheMessageNames() {
    Map<String, String> refused = Map.of(
        ",\"stop_token_ids\":[5,\"6\"]", "stop_token_ids[1]",
        ",\"stop_token_ids\":[5,-1]", "stop_token_ids[1]",
        ",\"stop_token_ids\":[5,1e400]", "stop_token_ids[1]",
        ",\"stop\":[\"a\",5]", "stop[1]",
        ",\"stop\":[\"a\",\"\"]", "stop[1]",
        ",\"stop\":[\"a\",\"" + "x".repeat(257) + "\"]", "stop[1]",
        ",\"prompt\":[1,true]", "prompt[1]",
        ",\"prompt\":[[1,-1]]", "prompt[0][1]");
    for (Map.Entry<String, String> c : refused.entrySet()) {
      OpenAi.Error e = refusal(() -> completion(c.getKey()));
      assertEquals(c.getValue(), e.param(), c.getKey());
      assertTrue(e.message().startsWith(c.getValue() + " "), e.message());
    }
    assertEquals("tokens[1]", refusal(() -> detokenized("[1,\"x\"]")).param());
  }

  /**
   * A field's type is checked before the range of a number in it: {@code 1e400} where a string or a
   * boolean belongs is refused as of the wrong type, which is the mistake to fix.
   */
  @Test
  void aNumberBeyondAFloatsRangeWhereAnotherTypeBelongsIsRefusedNamingThatType() {
    Map<String, String> refused = Map.of(
        ",\"user\":1e400", "user must be a string, got a number",
        ",\"model\":-1e400", "model must be a string, got a number",
        ",\"stream\":1e400", "stream must be true or false, got a number beyond a 64-bit float's range",
        ",\"tandem\":{\"mode\":1e400}", "tandem.mode must be a string: speculative, small or large; got a number beyond a"
            + " 64-bit float's range",
        ",\"stop\":[1e400]", "stop[0] must be a string, got a number",
        ",\"tandem\":{\"help_think_word\":1e400}", "tandem: help_think_word must be a string, got a number beyond a 64-bit"
            + " float's range",
        ",\"tandem\":{\"max_target_tokens\":-1e400}", "tandem: max_target_tokens must be an integer from -2147483648 to"
            + " 2147483647, got a number beyond a 64-bit float's range",
        ",\"tandem\":{\"time_out\":1e400}", "tandem: time_out must be a number of seconds (<= 0 for none), got a number"
            + " beyond a 64-bit float's range");
    for (Map.Entry<String, String> c : refused.entrySet())
      assertEquals(c.getValue(), refusal(() -> completion(c.getKey())).message(), c.getKey());
    OpenAi.Error part = refusal(() -> parse("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":1e400,\"text\":\"hi\"}]}]}",
        true));
    assertEquals("messages[0].content[0].type must be the string \"text\", got a number beyond a 64-bit float's range",
        part.message());
  }

  /**
   * Where a request passes a value on as it came (template variables, tools), a number beyond a
   * float's range is refused naming its path; a field Tandem ignores is ignored whatever it holds
   * ({@code metadata}'s members), once it is of its type ({@code store} is true or false).
   */
  @Test
  void aNumberBeyondAFloatsRangeIsRefusedWhereItIsReadAndIgnoredWhereNothingIs() {
    String chat = "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]";
    OpenAi.Error kwargs = refusal(() -> parse(chat + ",\"chat_template_kwargs\":{\"budget\":1e400}}", true));
    assertEquals("chat_template_kwargs.budget is a number out of range: beyond a 64-bit float's (about -1.8e308 to 1.8e308)",
        kwargs.message());
    assertEquals("chat_template_kwargs.budget", kwargs.param());
    assertEquals("tools[0].function.parameters.maximum", refusal(() -> parse(chat + ",\"tool_choice\":\"none\",\"tools\":[{"
        + "\"type\":\"function\",\"function\":{\"name\":\"f\",\"parameters\":{\"maximum\":1e400}}}]}", true)).param());
    parse(chat + ",\"metadata\":{\"a\":1e400},\"store\":true,\"safety_identifier\":\"u-1\"}", true);
    assertEquals("store must be true or false, got a number beyond a 64-bit float's range",
        refusal(() -> parse(chat + ",\"store\":1e400}", true)).message());
  }

  @Test
  void aStopTokenIdOutsideTheVocabularyIsA400NamingItAndTheVocabularysSize() {
    CompletionRequest r = completion(",\"stop_token_ids\":[5,5,1000000000,100]");
    OpenAi.Error e = refusal(() -> r.checkStopTokenIds(100));
    assertEquals("stop_token_ids[2] is token id 1000000000, outside the model's vocabulary of 100 tokens (ids 0 to 99)", e.message());
    assertEquals("stop_token_ids[2]", e.param(), "the first element at fault, counted as sent (a repeated id included)");
    assertEquals("invalid_request_error", e.type());
    r.checkStopTokenIds(0); // a model without a fixed vocabulary: nothing to check against
    completion(",\"stop_token_ids\":[0,99]").checkStopTokenIds(100);
  }

  /**
   * A number written with more than 1,000 characters is refused before it is converted (Jackson
   * 2.15's own limit; 2.13 took some 24 s of CPU to convert a million digits), naming its path;
   * one of 1,000 is read and refused, or taken, by its field's own rule.
   */
  @Test
  void aNumberWrittenWithMoreThanAThousandCharactersIsRefusedNamingItsPath() {
    String digits1001 = "1" + "0".repeat(1000);
    record Case(String fields, String path, int length) {}
    for (Case c : List.of(
        new Case(",\"seed\":" + digits1001, "seed", 1001),
        new Case(",\"seed\":" + "9".repeat(1_000_000), "seed", 1_000_000),
        new Case(",\"temperature\":0." + "0".repeat(999), "temperature", 1001),
        new Case(",\"stop_token_ids\":[5,-" + digits1001 + "]", "stop_token_ids[1]", 1002),
        new Case(",\"prompt\":[[1," + digits1001 + "]]", "prompt[0][1]", 1001),
        new Case(",\"tandem\":{\"max_target_tokens\":" + digits1001 + "}", "tandem.max_target_tokens", 1001))) {
      OpenAi.Error e = refusal(() -> completion(c.fields()));
      assertEquals(c.path() + " is a number written with " + c.length()
          + " characters; a request's numbers may have at most 1000", e.message());
      assertEquals(c.path(), e.param());
    }
    assertEquals("tokens[0]", refusal(() -> detokenized("[" + digits1001 + "]")).param());
    assertEquals(0.0, completion(",\"temperature\":0." + "0".repeat(998)).sampling().temperature());
    assertTrue(refusal(() -> completion(",\"seed\":" + "1".repeat(1000))).message().startsWith("seed "));
  }

  /**
   * A number nearer to 0 than a double can be is refused naming its path: read as 0 it would mean
   * something else (a {@code time_out} of 1e-400 s was no time-out at all); 0 written in any form is 0.
   */
  @Test
  void aNumberTooCloseToZeroForADoubleIsRefusedNamingItsPath() {
    for (String[] c : new String[][] {{",\"tandem\":{\"time_out\":1e-400}", "tandem.time_out"},
        {",\"temperature\":-0.5E-999", "temperature"}, {",\"stop_token_ids\":[1,2e-500]", "stop_token_ids[1]"}}) {
      OpenAi.Error e = refusal(() -> completion(c[0]));
      assertEquals(c[1] + " is a number too close to 0 for a 64-bit float (the smallest is about 4.9e-324); write 0, or a"
          + " larger number", e.message());
      assertEquals(c[1], e.param());
    }
    assertEquals(0.0, completion(",\"tandem\":{\"time_out\":0.0e-400}").config().timeOut());
    assertEquals(0.0, completion(",\"temperature\":0.000E5").sampling().temperature());
    assertEquals(4.9e-324, completion(",\"tandem\":{\"time_out\":4.9e-324}").config().timeOut());
  }

  /**
   * {@code time_out} is scheduled as an Akka timer: one over Akka's longest delay (248 days) is a
   * 400 naming it, where the session's timer failed and the request went unanswered.
   */
  @Test
  void aTimeOutBeyondAkkasLongestDelayIsRefused() {
    assertEquals(21474835.0, completion(",\"tandem\":{\"time_out\":21474835}").config().timeOut());
    for (String v : new String[] {"21474836", "1e9", "21474835.5"}) {
      OpenAi.Error e = refusal(() -> completion(",\"tandem\":{\"time_out\":" + v + "}"));
      assertEquals("tandem: time_out must be a number of seconds, <= 0 for none and at most 21474835s (248 days, the longest"
          + " delay Akka's scheduler takes), got " + new java.math.BigDecimal(v).stripTrailingZeros().toPlainString(),
          e.message());
    }
    assertTrue(refusal(() -> completion(",\"tandem\":{\"time_out\":1e308}")).message().endsWith("got 1E+308"),
        "not 309 digits");
  }

  /**
   * A field Tandem reads only to refuse what it does not do ({@code logit_bias}, {@code
   * response_format}, {@code tool_choice}) names a number beyond a float's range by its path, where
   * the refusal quoted the value with {@code "Infinity"} in its place.
   */
  @Test
  void aNumberBeyondAFloatsRangeInAFieldQuotedByARefusalIsNamedByItsPath() {
    String chat = "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]";
    Map<String, String> refused = Map.of(
        chat + ",\"logit_bias\":{\"5\":1e400}}", "logit_bias.5",
        chat + ",\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"schema\":{\"maximum\":-1e400}}}}",
        "response_format.json_schema.schema.maximum",
        chat + ",\"tool_choice\":{\"type\":\"function\",\"x\":1e400}}", "tool_choice.x");
    for (Map.Entry<String, String> c : refused.entrySet()) {
      OpenAi.Error e = refusal(() -> parse(c.getKey(), true));
      assertEquals(c.getValue() + " is a number out of range: beyond a 64-bit float's (about -1.8e308 to 1.8e308)", e.message());
      assertFalse(e.message().contains("Infinity"), e.message());
    }
  }
}
