package io.tandem.protocol;

import java.util.List;

/**
 * What the generation continues: chat messages (each worker renders them with its own model's
 * chat template, as {@code chatTemplate} says) or a raw prompt fed as it is. A raw prompt the client gave as token ids also
 * carries those ids and the vocabulary they belong to ({@code tokenizerKey}, as {@link Chunk}
 * names it): a worker of that vocabulary takes the ids as they are, any other one tokenizes
 * {@code raw}, their text. Raw text is tokenized with the special tokens the tokenizer adds
 * around a text ({@code addSpecialTokens}: Hugging Face's {@code add_special_tokens}, a BOS for
 * some) or without; chat messages and token ids never get them (the template writes its own).
 */
public record Prompt(List<ChatMessage> messages, String raw, List<Integer> tokenIds, String tokenizerKey,
    ChatTemplateArgs chatTemplate, boolean addSpecialTokens) implements CborSerializable {
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
    if (messages != null || tokenIds != null) addSpecialTokens = false;
  }

  /** A chat prompt, rendered by each worker with its model's chat template and the generation prompt. */
  public static Prompt chat(List<ChatMessage> messages) {
    return chat(messages, ChatTemplateArgs.DEFAULT);
  }

  /** A chat prompt, rendered by each worker with its model's chat template as {@code args} say. */
  public static Prompt chat(List<ChatMessage> messages, ChatTemplateArgs args) {
    return new Prompt(messages, null, null, null, args, false);
  }

  /**
   * A raw prompt, tokenized as it is, with the special tokens the tokenizer adds around a text, as
   * vLLM tokenizes a text prompt by default ({@code add_special_tokens}, true for completions).
   */
  public static Prompt raw(String text) {
    return raw(text, true);
  }

  /** A raw prompt, tokenized as it is, with the tokenizer's special tokens around it or without. */
  public static Prompt raw(String text, boolean addSpecialTokens) {
    return new Prompt(null, text, null, null, null, addSpecialTokens);
  }

  /** A prompt given as token ids of the vocabulary {@code tokenizerKey}, whose text is {@code text}. */
  public static Prompt tokens(List<Integer> tokenIds, String tokenizerKey, String text) {
    return new Prompt(null, text, tokenIds, tokenizerKey, null, false);
  }

  /** Whether this prompt is chat messages (else raw text). */
  public boolean isChat() {
    return messages != null;
  }
}
