package io.tandem.protocol;

/**
 * One chat message as the OpenAI API carries it: role ({@code system|user|assistant}) and content,
 * and what vLLM passes on to the chat template beside them: the participant's {@code name}, and an
 * assistant message's {@code reasoning} (sent as {@code reasoning_content} or {@code reasoning}),
 * each null where the message has none.
 */
public record ChatMessage(String role, String content, String name, String reasoning) implements CborSerializable {
  /** @throws IllegalArgumentException when the role is missing; a null content counts as empty */
  public ChatMessage {
    if (role == null || role.isBlank()) throw new IllegalArgumentException("chat message has no role");
    if (content == null) content = "";
  }

  /** A message with no name and no reasoning. */
  public ChatMessage(String role, String content) {
    this(role, content, null, null);
  }
}
