package io.tandem.inference.text;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.LegacyOverrides;
import com.hubspot.jinjava.el.JinjavaInterpreterResolver;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;
import io.tandem.inference.text.jinja.GenerationTag;
import io.tandem.inference.text.jinja.PyForTag;
import io.tandem.inference.text.jinja.PyJsonFilter;
import io.tandem.inference.text.jinja.PyItemsFilter;
import io.tandem.inference.text.jinja.PyIterableTest;
import io.tandem.inference.text.jinja.PySelectFilter;
import io.tandem.inference.text.jinja.PyStringFilter;
import io.tandem.inference.text.jinja.PyTrimFilter;
import io.tandem.inference.text.jinja.PythonInterpreter;
import io.tandem.inference.text.jinja.PythonParser;
import io.tandem.inference.text.jinja.PythonResolver;
import io.tandem.inference.text.jinja.PythonSyntax;
import io.tandem.inference.text.jinja.TemplateFunctions;
import io.tandem.protocol.ChatMessage;
import io.tandem.protocol.ChatTemplateArgs;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import jinjava.javax.el.CompositeELResolver;
import jinjava.javax.el.ExpressionFactory;

/**
 * A model's chat template, rendered the way Hugging Face's {@code apply_chat_template} renders it.
 *
 * <p>Hugging Face renders with Jinja2 ({@code trim_blocks=True, lstrip_blocks=True}), passing
 * {@code messages}, {@code add_generation_prompt}, {@code tools} and {@code chat_template_kwargs}, and the special tokens ({@code bos_token},
 * {@code eos_token}, ...), with {@code raise_exception}, {@code strftime_now}, a
 * {@code tojson} filter and the {@code {% generation %}} tag in scope. Here Jinjava does the rendering;
 * {@link PythonResolver}, {@link PythonSyntax}, {@link PythonParser} and {@link PyForTag} supply the
 * Python and Jinja2 behaviour that templates take for granted.
 * Instances are immutable and safe to share between threads.
 */
public final class ChatTemplate {

  private static final ObjectMapper JSON = new ObjectMapper();

  private final String source;
  private final String rewritten;
  private final Map<String, Object> specialTokens;
  private final Jinjava jinjava;

  /**
   * @param source the Jinja template, as the checkpoint ships it
   * @param specialTokens {@code bos_token}, {@code eos_token} and the like, as the template sees them
   */
  public ChatTemplate(String source, Map<String, ?> specialTokens) {
    this.source = Objects.requireNonNull(source, "source");
    this.specialTokens = Map.copyOf(specialTokens);
    // Jinja2 drops a single trailing newline of the template source (keep_trailing_newline=False).
    String trimmed = source.endsWith("\r\n") ? source.substring(0, source.length() - 2)
        : source.endsWith("\n") ? source.substring(0, source.length() - 1) : source;
    this.rewritten = PythonSyntax.rewrite(trimmed);
    this.jinjava = newEngine();
  }

  /**
   * Loads the template of a Hugging Face checkpoint folder: {@code chat_template.jinja} if present
   * (recent releases write it, and Hugging Face prefers it), else {@code chat_template} in
   * {@code tokenizer_config.json}, which is either a string or a list of named templates (the
   * one named {@code default} is used).
   */
  public static ChatTemplate load(Path modelDir) {
    Path configFile = modelDir.resolve("tokenizer_config.json");
    Path jinjaFile = modelDir.resolve("chat_template.jinja");
    try {
      JsonNode config = Files.exists(configFile) ? JsonFault.readObject(JSON, configFile, "{...}") : JSON.createObjectNode();
      String template;
      if (Files.exists(jinjaFile)) {
        template = Files.readString(jinjaFile);
      } else {
        template = templateFromConfig(config.get("chat_template"), configFile);
      }
      return new ChatTemplate(template, specialTokens(config));
    } catch (IOException e) {
      String file = e instanceof java.nio.file.AccessDeniedException denied ? denied.getFile() + ": " : "";
      throw new UncheckedIOException("cannot read the chat template of " + modelDir + ": " + file
          + io.tandem.inference.hf.CheckpointException.why(e), e);
    }
  }

  private static String templateFromConfig(JsonNode node, Path configFile) {
    if (node == null || node.isNull()) {
      throw new IllegalArgumentException(configFile + " has no chat_template and there is no "
          + "chat_template.jinja beside it: this checkpoint cannot render chat messages");
    }
    if (node.isTextual()) return node.asText();
    if (node.isArray()) {
      List<String> names = new ArrayList<>();
      for (JsonNode named : node) {
        String name = named.path("name").asText();
        if (name.equals("default")) return named.path("template").asText();
        names.add(name);
      }
      throw new IllegalArgumentException(configFile + " lists chat templates " + names
          + " but none is named 'default'");
    }
    throw new IllegalArgumentException(configFile + ": chat_template must be a string or a list of "
        + "{name, template}, got " + node.getNodeType());
  }

  /** The special tokens Hugging Face passes to templates, from {@code tokenizer_config.json}. */
  static Map<String, Object> specialTokens(JsonNode config) {
    Map<String, Object> out = new HashMap<>();
    for (String key : List.of("bos_token", "eos_token", "unk_token", "pad_token", "sep_token",
        "cls_token", "mask_token")) {
      String value = tokenContent(config.get(key));
      if (value != null) out.put(key, value);
    }
    JsonNode extra = config.get("additional_special_tokens");
    if (extra != null && extra.isArray()) {
      List<String> tokens = new ArrayList<>();
      extra.forEach(t -> tokens.add(tokenContent(t)));
      out.put("additional_special_tokens", tokens);
    }
    return out;
  }

  /** A special token is written either as a string or as an object with {@code content}. */
  static String tokenContent(JsonNode node) {
    if (node == null || node.isNull()) return null;
    if (node.isTextual()) return node.asText();
    JsonNode content = node.get("content");
    return content != null && content.isTextual() ? content.asText() : null;
  }

  /** How deep a macro may call itself: a tool schema's nesting is far less. */
  static final int MAX_MACRO_DEPTH = 64;

  /** Jinjava's expressions, read with the rules of Jinja2's grammar that {@link PythonParser} adds. */
  private static final ExpressionFactory EXPRESSIONS = PythonParser.expressionFactory();

  private static Jinjava newEngine() {
    CompositeELResolver resolver = new CompositeELResolver();
    resolver.add(new PythonResolver());
    resolver.add(JinjavaInterpreterResolver.DEFAULT_RESOLVER_READ_WRITE);
    JinjavaConfig config = JinjavaConfig.newBuilder()
        // Jinja2 calls a macro within itself (gpt-oss's render_typescript_type, for a tool's nested parameters);
        // Jinjava, by default, rendered such a call as nothing (tester60g). Deeper than any schema, a limit's error fails.
        .withEnableRecursiveMacroCalls(true)
        .withMaxMacroRecursionDepth(MAX_MACRO_DEPTH)
        .withTrimBlocks(true)
        .withLstripBlocks(false) // done by PythonSyntax, as Jinja2 does it
        .withElResolver(resolver)
        .withInterperterFactory(PythonInterpreter.FACTORY)
        // Message text is data: `{{` inside a user's message must never be rendered as code.
        .withNestedInterpretationEnabled(false)
        .withLegacyOverrides(LegacyOverrides.newBuilder()
            .withUseTrimmingForNotesAndExpressions(true) // `{{-` and `-}}` strip whitespace
            .withParseWhitespaceControlStrictly(true)
            .withUseNaturalOperatorPrecedence(true) // `x=messages|length - 1` as Jinja2 reads it
            .withEvaluateMapKeys(true)
            .withIterateOverMapKeys(true) // `for k in dict` yields keys, as in Python
            .withKeepNullableLoopValues(true)
            .withUsePyishObjectMapper(true)
            .build())
        .build();
    Jinjava jinjava = new Jinjava(config) {
      @Override
      public ExpressionFactory getExpressionFactory() {
        return EXPRESSIONS;
      }
    };
    var globals = jinjava.getGlobalContext();
    globals.registerFunction(new ELFunctionDefinition("", "raise_exception",
        TemplateFunctions.class, "raiseException", Object.class));
    globals.registerFunction(new ELFunctionDefinition("", "strftime_now",
        TemplateFunctions.class, "strftimeNow", String.class));
    globals.registerFunction(new ELFunctionDefinition("", "__slice__",
        TemplateFunctions.class, "slice", Object.class, Object.class, Object.class));
    globals.registerFilter(new PyJsonFilter());
    globals.registerFilter(new PyStringFilter());
    globals.registerFilter(new PyTrimFilter());
    globals.registerExpTest(new PyIterableTest());
    globals.registerFilter(new PyItemsFilter());
    globals.registerFilter(new PySelectFilter());
    globals.registerFilter(new PySelectFilter.Reject());
    globals.registerTag(new PyForTag());
    globals.registerTag(new GenerationTag());
    return jinjava;
  }

  /** The template source as the checkpoint ships it. */
  public String source() {
    return source;
  }

  /**
   * Renders a conversation to prompt text.
   *
   * @param addGenerationPrompt whether to end with the opening of an assistant turn, as a prompt
   *     for the model to answer does
   * @throws IllegalArgumentException when the template rejects the conversation
   *     ({@code raise_exception}) or cannot be rendered
   */
  public String render(List<ChatMessage> messages, boolean addGenerationPrompt) {
    return render(messages, new ChatTemplateArgs(addGenerationPrompt, false, "{}"));
  }

  /**
   * Renders a conversation to prompt text as Hugging Face's {@code apply_chat_template} does with
   * {@code args}: its {@code variables} ({@code tools}, {@code chat_template_kwargs}) join the
   * template's context, and may replace {@code add_generation_prompt} there as in vLLM, but not
   * {@code messages}. With {@code continueFinalMessage} the text is cut right after the final
   * message's content (what the template writes after it, its end-of-turn, goes), found as Hugging
   * Face finds it: the last place the content, stripped of surrounding whitespace, occurs.
   *
   * @throws IllegalArgumentException when the template rejects the conversation
   *     ({@code raise_exception}) or cannot be rendered, or when the final message to continue
   *     does not appear in the rendered text
   */
  public String render(List<ChatMessage> messages, ChatTemplateArgs args) {
    List<Map<String, Object>> list = new ArrayList<>(messages.size());
    for (ChatMessage m : messages) {
      Map<String, Object> map = new LinkedHashMap<>();
      map.put("role", m.role());
      map.put("content", m.content());
      // As vLLM's chat parser passes them on: a template may write a participant's name, or an assistant turn's
      // reasoning (Qwen3's writes it in a <think> block), under either of the names servers use for it.
      if (m.name() != null) map.put("name", m.name());
      if (m.reasoning() != null) {
        map.put("reasoning_content", m.reasoning());
        map.put("reasoning", m.reasoning());
      }
      list.add(map);
    }
    Map<String, Object> context = new HashMap<>(specialTokens);
    context.put("add_generation_prompt", args.addGenerationPrompt());
    context.putAll(args.variables());
    context.put("messages", list);
    RenderResult result = jinjava.renderForResult(rewritten, context);
    for (TemplateError error : result.getErrors()) {
      Throwable raised = raisedBy(error);
      if (raised != null) {
        throw new IllegalArgumentException("the chat template rejected the conversation: " + raised.getMessage());
      }
    }
    // A macro's recursion past its limit, which Jinjava reports as a warning and renders as nothing, fails as
    // Jinja2's RecursionError does.
    List<TemplateError> fatal = result.getErrors().stream()
        .filter(e -> e.getSeverity() == TemplateError.ErrorType.FATAL || String.valueOf(e.getMessage()).startsWith(
            "Max recursion limit") || String.valueOf(e.getMessage()).startsWith("Cycle detected"))
        .toList();
    if (!fatal.isEmpty()) {
      StringBuilder why = new StringBuilder("cannot render the chat template:");
      for (TemplateError e : fatal) {
        why.append("\n  line ").append(e.getLineno()).append(": ").append(e.getMessage());
      }
      throw new IllegalArgumentException(why.toString());
    }
    String text = result.getOutput();
    return args.continueFinalMessage() && !messages.isEmpty() ? cutAfter(text, messages.get(messages.size() - 1).content()) : text;
  }

  /** {@code text} up to the end of {@code finalContent}'s last occurrence, as Hugging Face cuts it. */
  private static String cutAfter(String text, String finalContent) {
    String stripped = finalContent.strip();
    // Empty, it appears anywhere, and Hugging Face then cuts nothing, the end of turn included (tester44c read "does not appear").
    if (stripped.isEmpty())
      throw new IllegalArgumentException("continue_final_message is set but the final message is empty (or only whitespace),"
          + " so there is nothing to continue; give it the text to continue, or leave continue_final_message out");
    int at = text.lastIndexOf(stripped);
    if (at < 0)
      throw new IllegalArgumentException("continue_final_message is set but the final message's content does not appear in"
          + " the conversation as the chat template renders it, so there is nothing to continue");
    // A template that writes the content as it is gets cut after its trailing whitespace; one that
    // trims it (or content with leading whitespace), after the stripped content.
    boolean asItIs = finalContent.equals(finalContent.stripLeading()) && text.startsWith(finalContent, at);
    int end = asItIs ? at + finalContent.length() : at + stripped.length();
    return text.substring(0, end);
  }

  private static Throwable raisedBy(TemplateError error) {
    for (Throwable t = error.getException(); t != null; t = t.getCause()) {
      if (t instanceof TemplateFunctions.TemplateRaisedException) return t;
    }
    if (error.getMessage() != null && error.getMessage().contains("TemplateRaisedException")) {
      return new TemplateFunctions.TemplateRaisedException(error.getMessage());
    }
    return null;
  }
}
