package io.tandem.inference.text;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.tandem.protocol.ChatMessage;
import io.tandem.protocol.ChatTemplateArgs;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class ChatTemplateTest {

  @Test
  void rendersEveryGoldenQwenConversationExactlyAsHuggingFaceDoes() {
    Path dir = TextFixtures.dir("qwen-tokenizer");
    ChatTemplate template = ChatTemplate.load(dir);
    try (HfTokenizer tokenizer = HfTokenizer.load(dir)) {
      int checked = 0;
      for (JsonNode c : TextFixtures.qwenGolden().get("chat_template_renders")) {
        String text = template.render(TextFixtures.messages(c.get("messages")), c.get("add_generation_prompt").asBoolean());
        String what = c.get("name").asText() + ", add_generation_prompt=" + c.get("add_generation_prompt");
        assertEquals(c.get("text").asText(), text, what);
        assertArrayEquals(TextFixtures.ints(c.get("ids")), tokenizer.encode(text), what);
        checked++;
      }
      assertEquals(6, checked);
    }
  }

  @Test
  void qwenTemplateDropsTheThinkingOfEarlierAssistantTurns() {
    String text = ChatTemplate.load(TextFixtures.dir("qwen-tokenizer")).render(List.of(
        new ChatMessage("user", "Hi"),
        new ChatMessage("assistant", "<think>\nsecret reasoning\n</think>\n\nHello!"),
        new ChatMessage("user", "Bye")), true);
    assertFalse(text.contains("secret reasoning"), text);
    assertTrue(text.contains("<|im_start|>assistant\nHello!<|im_end|>\n"), text);
  }

  @Test
  void anAssistantTurnsReasoningAndAParticipantsNameReachTheTemplateAsVllmPassesThem() {
    String text = ChatTemplate.load(TextFixtures.dir("qwen-tokenizer")).render(List.of(
        new ChatMessage("user", "a"),
        new ChatMessage("assistant", "ans", null, "thought")), false);
    // Qwen3's template writes the reasoning of a turn after the last user message in its think block.
    assertTrue(text.endsWith("<|im_start|>assistant\n<think>\nthought\n</think>\n\nans<|im_end|>\n"), text);
    ChatTemplate named = new ChatTemplate(
        "{% for m in messages %}{{ m.name }}:{{ m.reasoning_content }}|{{ m.reasoning }};{% endfor %}", Map.of());
    assertEquals("ann:|;:r|r;", named.render(List.of(new ChatMessage("user", "hi", "ann", null),
        new ChatMessage("assistant", "yes", null, "r")), false));
  }

  /** Expected strings as Jinja2 3.1 renders the template (trim_blocks, lstrip_blocks, as transformers sets them). */
  @Test
  void notIsReadBelowComparisonsAndTestsAsJinja2ReadsIt() {
    ChatTemplate template = new ChatTemplate("{% set n = messages|length %}{{ not n is odd }}|{{ not n is defined }}|"
        + "{{ not messages[0].role == 'system' }}|{{ not 'x' in messages[0].content }}|{{ not n and true }}|{{ not not n }}|"
        + "{{ not messages|length is even }}|{{ -n + 1 }}|{% if not add_generation_prompt is defined %}"
        + "{% set add_generation_prompt = false %}{% endif %}{{ add_generation_prompt }}", Map.of());
    assertEquals("True|False|True|False|False|True|False|-3|True", template.render(List.of(new ChatMessage("user", "hix"),
        new ChatMessage("assistant", "a"), new ChatMessage("user", "b"), new ChatMessage("assistant", "c")), true));
  }

  /** Expected as Jinja2 3.1 renders it (tester60f: gpt-oss's macro defaults, Qwen3-Coder's |items and |string). */
  @Test
  void macroDefaultsItemsStringAndConcatenationAsJinja2() {
    ChatTemplate template = new ChatTemplate("{%- macro f(x=1, y=false, z='a', w=[]) -%}{{x}}{{y}}{{z}}{{w|length}}"
        + "{%- endmacro -%}{{ f() }}|{{ f(2, true) }}|{{ f(z='q') }}|{% for k, v in d|items %}{{k}}={{v}};{% endfor %}|"
        + "{{ true|string }}{{ false|string }}|{{ 'x' ~ true }}", Map.of("d", new java.util.LinkedHashMap<>(
            java.util.Map.of("b", 1))));
    assertEquals("1Falsea0|2Truea0|1Falseq0|b=1;|TrueFalse|xTrue", template.render(List.of(), false));
  }

  /** Expected as Jinja2 3.1 renders it (tester60g: gpt-oss's recursive render_typescript_type, Hermes' |trim). */
  @Test
  void aMacroCallsItselfAndAnUndefinedValueTrimsToNothing() {
    ChatTemplate template = new ChatTemplate("{%- macro rec(n) -%}{% if n > 0 %}{{ n }}{{ rec(n - 1) }}{% endif %}"
        + "{%- endmacro -%}{{ rec(3) }}|{{ nosuch|trim }}|{{ 'a' + (nosuch|trim) }}", Map.of());
    assertEquals("321||a", template.render(List.of(), false));
    ChatTemplate endless = new ChatTemplate("{%- macro rec(n) -%}{{ rec(n + 1) }}{%- endmacro -%}{{ rec(0) }}", Map.of());
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> endless.render(List.of(), false));
    assertTrue(e.getMessage().contains("Max recursion limit"), e.getMessage());
  }

  /** Expected as Jinja2 3.1 renders it (tester60i: Llama 3.1's and Mistral's content|trim of pasted text). */
  @Test
  void trimStripsWhatPythonStripsAndIterableIsJinja2s() {
    ChatTemplate template = new ChatTemplate("[{{ \"\u00a0hi\u3000 \"|trim }}]|{{ (\"\u0001hi\u001f\"|trim)|length }}|"
        + "{{ \"xxhixx\"|trim(\"x\") }}|{{ \" xhix \"|trim(\"x\") }}|{{ 151|trim(\"1\") }}|{{ true|trim }}|"
        + "{{ \"abc\" is iterable }}{{ {} is iterable }}{{ [] is iterable }}{{ 3 is iterable }}", Map.of());
    assertEquals("[hi]|3|hi| xhix |5|True|TrueTrueTrueFalse", template.render(List.of(), false));
    // By code points: U+1F600 shares its first half with U+1F601, which it must not strip (tester60j).
    ChatTemplate astral = new ChatTemplate("[{{ s|trim(c) }}]|[{{ s.strip(c) }}]|[{{ s.rstrip(c) }}]",
        Map.of("s", "\uD83D\uDE01x\uD83D\uDE01\uD83D\uDE00", "c", "\uD83D\uDE00"));
    assertEquals("[\uD83D\uDE01x\uD83D\uDE01]|[\uD83D\uDE01x\uD83D\uDE01]|[\uD83D\uDE01x\uD83D\uDE01]",
        astral.render(List.of(), false));
  }

  @Test
  void tojsonSortsKeysWhenAsked() {
    ChatTemplate template = new ChatTemplate("{{ {'b': 1, 'a': {'d': 2, 'c': 3}}|tojson(sort_keys=true) }}|"
        + "{{ {'b': 1, 'a': 2}|tojson }}", Map.of());
    assertEquals("{\"a\": {\"c\": 3, \"d\": 2}, \"b\": 1}|{\"b\": 1, \"a\": 2}", template.render(List.of(), false));
  }

  @Test
  void tinyTemplatesLoadFromTokenizerConfigAndFromChatTemplateJinja() {
    List<ChatMessage> chat = List.of(new ChatMessage("user", "w5 w6"), new ChatMessage("assistant", "w7"));
    for (String fixture : List.of("qwen2-tiny", "llama-tiny", "llama3-rope-tiny")) {
      Path dir = TextFixtures.dir(fixture);
      String text = ChatTemplate.load(dir).render(chat, true);
      assertEquals("w5 w6 w7 ", text, fixture);
      try (HfTokenizer tokenizer = HfTokenizer.load(dir)) {
        assertArrayEquals(new int[] {5, 6, 7}, tokenizer.encode(text), fixture);
      }
    }
  }

  static Stream<Arguments> jinja2Cases() {
    JsonNode all = TextFixtures.json(Path.of(resource("/jinja/cases.json")));
    List<Arguments> out = new ArrayList<>();
    for (JsonNode c : all.get("cases")) {
      out.add(Arguments.of(c.get("name").asText() + (c.get("add_generation_prompt").asBoolean() ? "+gen" : ""),
          c.get("template").asText(), c.get("add_generation_prompt").asBoolean(), c.get("text").asText()));
    }
    return out.stream();
  }

  private static String resource(String name) {
    try {
      return Path.of(ChatTemplateTest.class.getResource(name).toURI()).toString();
    } catch (Exception e) {
      throw new IllegalStateException(name, e);
    }
  }

  /** Cases written by Jinja2 3.1 configured as Hugging Face configures it (see make_cases.py). */
  @ParameterizedTest(name = "{0}")
  @MethodSource("jinja2Cases")
  void pythonConstructsRenderAsJinja2RendersThem(String name, String source, boolean generationPrompt, String expected) {
    JsonNode all = TextFixtures.json(Path.of(resource("/jinja/cases.json")));
    ChatTemplate template = new ChatTemplate(source,
        Map.of("bos_token", all.get("bos_token").asText(), "eos_token", all.get("eos_token").asText()));
    assertEquals(expected, template.render(TextFixtures.messages(all.get("messages")), generationPrompt));
  }

  @Test
  void raiseExceptionInTheTemplateRejectsTheConversationWithItsMessage() {
    JsonNode all = TextFixtures.json(Path.of(resource("/jinja/cases.json")));
    ChatTemplate template = new ChatTemplate(all.get("raising_template").asText(), Map.of());
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> template.render(List.of(new ChatMessage("assistant", "hi")), true));
    assertTrue(e.getMessage().contains("Conversations must start with a user message"), e.getMessage());
    assertEquals("ok", template.render(List.of(new ChatMessage("user", "hi")), true));
  }

  @Test
  void messageTextIsNeverRunAsTemplateCode() {
    ChatTemplate template = ChatTemplate.load(TextFixtures.dir("qwen-tokenizer"));
    String content = "{{ 7 * 7 }} {% if true %}x{% endif %} {# c #}";
    String text = template.render(List.of(new ChatMessage("user", content)), false);
    assertEquals("<|im_start|>user\n" + content + "<|im_end|>\n", text);
  }

  /**
   * A message's text is written as it is, control characters included, as Jinja2 writes a string (tester59d: NUL and
   * ESC reached the model as the six characters of their JSON escape); continuing a final message with one works too.
   */
  @Test
  void messageTextWithControlCharactersIsWrittenAsItIs() {
    ChatTemplate template = ChatTemplate.load(TextFixtures.dir("qwen-tokenizer"));
    String content = "a\u0000b\u001bc\u0001\u000b\"d\\e\u007f";
    assertEquals("<|im_start|>user\n" + content + "<|im_end|>\n", template.render(List.of(new ChatMessage("user", content)), false));
    String continued = template.render(List.of(new ChatMessage("user", "x"), new ChatMessage("assistant", "Step\u001b 1")),
        new ChatTemplateArgs(false, true, "{}"));
    assertTrue(continued.endsWith("Step\u001b 1"), continued);
  }

  /**
   * vLLM's chat request fields on Qwen3's template, as Hugging Face's apply_chat_template renders
   * them: a prefilled answer continues without its end of turn; enable_thinking false closes an
   * empty think block; tools are listed in the system turn.
   */
  @Test
  void qwenRendersAPrefilledAnswerTheThinkingSwitchAndTools() {
    ChatTemplate template = ChatTemplate.load(TextFixtures.dir("qwen-tokenizer"));
    List<ChatMessage> prefilled = List.of(new ChatMessage("user", "2 + 2?"), new ChatMessage("assistant", "The answer is "));
    assertEquals("<|im_start|>user\n2 + 2?<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\nThe answer is ",
        template.render(prefilled, ChatTemplateArgs.of(false, true, Map.of())), "the content as written, without <|im_end|>");
    List<ChatMessage> question = List.of(new ChatMessage("user", "2 + 2?"));
    assertTrue(template.render(question, ChatTemplateArgs.of(true, false, Map.of("enable_thinking", false)))
        .endsWith("<|im_start|>assistant\n<think>\n\n</think>\n\n"));
    String tools = template.render(question, ChatTemplateArgs.of(true, false, Map.of("tools",
        List.of(Map.of("type", "function", "function", Map.of("name", "get_weather"))))));
    assertTrue(tools.startsWith("<|im_start|>system\n") && tools.contains("\"name\": \"get_weather\""), tools);
    IllegalArgumentException missing = assertThrows(IllegalArgumentException.class,
        () -> template.render(List.of(new ChatMessage("user", " ")), ChatTemplateArgs.of(false, true, Map.of())));
    assertEquals("continue_final_message is set but the final message is empty (or only whitespace), so there is nothing to"
        + " continue; give it the text to continue, or leave continue_final_message out", missing.getMessage());
  }

  @Test
  void aListOfNamedTemplatesUsesTheOneNamedDefault(@TempDir Path dir) throws IOException {
    Files.writeString(dir.resolve("tokenizer_config.json"), "{\"bos_token\": {\"content\": \"<s>\"}, "
        + "\"chat_template\": [{\"name\": \"tool_use\", \"template\": \"T\"}, "
        + "{\"name\": \"default\", \"template\": \"{{ bos_token }}{% for m in messages %}[{{ m.role }}]{% endfor %}\"}]}");
    assertEquals("<s>[user]", ChatTemplate.load(dir).render(List.of(new ChatMessage("user", "x")), false));
  }

  @Test
  void chatTemplateJinjaTakesPrecedenceOverTokenizerConfig(@TempDir Path dir) throws IOException {
    Files.writeString(dir.resolve("tokenizer_config.json"), "{\"chat_template\": \"old\"}");
    Files.writeString(dir.resolve("chat_template.jinja"), "new {{ messages|length }}\n");
    assertEquals("new 1", ChatTemplate.load(dir).render(List.of(new ChatMessage("user", "x")), false));
  }

  @Test
  void aCheckpointWithoutTemplateIsRejectedNamingWhereItLooked(@TempDir Path dir) throws IOException {
    Files.writeString(dir.resolve("tokenizer_config.json"), "{}");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ChatTemplate.load(dir));
    assertTrue(e.getMessage().contains("chat_template.jinja"), e.getMessage());
  }
}
