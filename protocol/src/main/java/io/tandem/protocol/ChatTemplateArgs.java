package io.tandem.protocol;

import java.util.Map;

/**
 * How chat messages are rendered with a model's chat template, as Hugging Face's {@code
 * apply_chat_template} and vLLM's chat request take it.
 *
 * @param addGenerationPrompt end with the opening of an assistant turn, for the model to answer
 *     (the default)
 * @param continueFinalMessage end inside the final message instead, without its end-of-turn, so
 *     that the model continues it (a prefilled assistant answer); not with {@code addGenerationPrompt}
 * @param variables further template variables: the request's {@code tools} and its {@code
 *     chat_template_kwargs} (e.g. {@code enable_thinking}), JSON values as Jackson reads them
 *     (maps, lists, strings, numbers, booleans)
 */
public record ChatTemplateArgs(boolean addGenerationPrompt, boolean continueFinalMessage, Map<String, Object> variables)
    implements CborSerializable {

  /** With the generation prompt and no further variables: how a chat request renders by default. */
  public static final ChatTemplateArgs DEFAULT = new ChatTemplateArgs(true, false, Map.of());

  /** @throws IllegalArgumentException when both the generation prompt and continuing the final message are asked for */
  public ChatTemplateArgs {
    if (addGenerationPrompt && continueFinalMessage)
      throw new IllegalArgumentException("continue_final_message and add_generation_prompt cannot both be true");
    variables = variables == null ? Map.of() : java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(variables));
  }
}
