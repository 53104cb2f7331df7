package io.tandem.protocol;

import java.util.List;

/**
 * What the generation continues: chat messages (each worker renders them with its own model's
 * chat template) or a raw prompt fed as it is.
 */
public record Prompt(List<ChatMessage> messages, String raw) implements CborSerializable {
  /** @throws IllegalArgumentException unless exactly one of {@code messages} and {@code raw} is given */
  public Prompt {
    if ((messages == null) == (raw == null))
      throw new IllegalArgumentException("a prompt is either chat messages or raw text, exactly one");
    if (messages != null) messages = List.copyOf(messages);
  }

  /** A chat prompt, rendered by each worker with its model's chat template. */
  public static Prompt chat(List<ChatMessage> messages) {
    return new Prompt(messages, null);
  }

  /** A raw prompt, tokenized as it is. */
  public static Prompt raw(String text) {
    return new Prompt(null, text);
  }

  /** Whether this prompt is chat messages (else raw text). */
  public boolean isChat() {
    return messages != null;
  }
}
