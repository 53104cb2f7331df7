package io.tandem.protocol;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.Map;

/**
 * How chat messages are rendered with a model's chat template, as Hugging Face's {@code
 * apply_chat_template} and vLLM's chat request take it.
 *
 * <p>The further template variables travel as the text of a JSON object: as a {@code Map<String,
 * Object>} they would come back from another node as Scala collections (Akka's Jackson has the
 * Scala module), which a template cannot iterate.
 *
 * @param addGenerationPrompt end with the opening of an assistant turn, for the model to answer
 *     (the default)
 * @param continueFinalMessage end inside the final message instead, without its end-of-turn, so
 *     that the model continues it (a prefilled assistant answer); not with {@code addGenerationPrompt}
 * @param variablesJson further template variables, a JSON object: the request's {@code tools} and
 *     its {@code chat_template_kwargs} (e.g. {@code {"enable_thinking": false}})
 */
public record ChatTemplateArgs(boolean addGenerationPrompt, boolean continueFinalMessage, String variablesJson)
    implements CborSerializable {

  private static final ObjectMapper JSON = new ObjectMapper();

  /** With the generation prompt and no further variables: how a chat request renders by default. */
  public static final ChatTemplateArgs DEFAULT = new ChatTemplateArgs(true, false, "{}");

  /**
   * @throws IllegalArgumentException when both the generation prompt and continuing the final
   *     message are asked for, or the variables are not a JSON object
   */
  public ChatTemplateArgs {
    if (addGenerationPrompt && continueFinalMessage)
      throw new IllegalArgumentException("continue_final_message and add_generation_prompt cannot both be true");
    if (variablesJson == null) variablesJson = "{}";
    parse(variablesJson);
  }

  /**
   * Arguments with {@code variables}: JSON values as Jackson reads them (maps, lists, strings,
   * numbers, booleans, null).
   */
  public static ChatTemplateArgs of(boolean addGenerationPrompt, boolean continueFinalMessage, Map<String, ?> variables) {
    try {
      return new ChatTemplateArgs(addGenerationPrompt, continueFinalMessage, JSON.writeValueAsString(variables));
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException("chat template variables must be JSON values: " + e.getOriginalMessage(), e);
    }
  }

  /** The further template variables, as Java maps, lists and values. */
  public Map<String, Object> variables() {
    return parse(variablesJson);
  }

  private static Map<String, Object> parse(String json) {
    try {
      return JSON.readValue(json, new TypeReference<Map<String, Object>>() {});
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException("chat template variables must be a JSON object: " + e.getOriginalMessage(), e);
    }
  }
}
