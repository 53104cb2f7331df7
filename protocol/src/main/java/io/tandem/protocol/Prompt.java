package io.tandem.protocol;

import java.util.List;

/**
 * What the generation continues: chat messages (each worker renders them with its own model's
 * chat template, as {@code chatTemplate} says) or a raw prompt fed as it is. A raw prompt the client gave as token ids also
 * carries those ids and the vocabulary they belong to ({@code tokenizerKey}, as {@link Chunk}
 * names it): a worker of that vocabulary takes the ids as they are, any other one tokenizes
 * {@code raw}, their text.
 */
public record Prompt(List<ChatMessage> messages, String raw, List<Integer> tokenIds, String tokenizerKey,
    ChatTemplateArgs chatTemplate) implements CborSerializable {
  /**
   * @throws IllegalArgumentException unless exactly one of {@code messages} and {@code raw} is
   *     given, and token ids come with their tokenizer's key and their text
   */
  public Prompt {
    if ((messages == null) == (raw == null))
      throw new IllegalArgumentException("a prompt is either chat messages or raw text, exactly one");
    if ((tokenIds == null) != (tokenizerKey == null) || (tokenIds != null && raw == null))
      throw new IllegalArgumentException("token ids come with their tokenizer's key and their text");
    if (messages != null) messages = List.copyOf(messages);
    if (messages != null && chatTemplate == null) chatTemplate = ChatTemplateArgs.DEFAULT;
    if (messages == null) chatTemplate = null;
    if (tokenIds != null) tokenIds = List.copyOf(tokenIds);
  }

  /** A chat prompt, rendered by each worker with its model's chat template and the generation prompt. */
  public static Prompt chat(List<ChatMessage> messages) {
    return chat(messages, ChatTemplateArgs.DEFAULT);
  }

  /** A chat prompt, rendered by each worker with its model's chat template as {@code args} say. */
  public static Prompt chat(List<ChatMessage> messages, ChatTemplateArgs args) {
    return new Prompt(messages, null, null, null, args);
  }

  /** A raw prompt, tokenized as it is. */
  public static Prompt raw(String text) {
    return new Prompt(null, text, null, null, null);
  }

  /** A prompt given as token ids of the vocabulary {@code tokenizerKey}, whose text is {@code text}. */
  public static Prompt tokens(List<Integer> tokenIds, String tokenizerKey, String text) {
    return new Prompt(null, text, tokenIds, tokenizerKey, null);
  }

  /** Whether this prompt is chat messages (else raw text). */
  public boolean isChat() {
    return messages != null;
  }
}
