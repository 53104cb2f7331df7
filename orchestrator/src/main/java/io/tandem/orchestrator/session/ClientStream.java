package io.tandem.orchestrator.session;

import akka.actor.typed.ActorRef;
import io.tandem.protocol.Author;
import io.tandem.protocol.Span;
import io.tandem.protocol.SpanReason;
import io.tandem.protocol.Token;
import java.util.List;

/**
 * A session's output to a streaming client: tokens of steps whose output is always kept go out as
 * the worker streams them; everything else once the plan has committed it. Nothing sent is ever
 * taken back, so the client's text is always a prefix of the final one.
 */
final class ClientStream {
  private final ActorRef<SessionEvent> client;
  private final boolean stream;
  /** What the prompt's reader has said of its prefix cache so far ({@link SessionEvent.Delta#cachedTokens}). */
  private final java.util.function.IntSupplier cachedTokens;
  /** Tokens the client has been sent. */
  private int emitted;

  ClientStream(ActorRef<SessionEvent> client, boolean stream, java.util.function.IntSupplier cachedTokens) {
    this.client = client;
    this.stream = stream;
    this.cachedTokens = cachedTokens;
  }

  /** Sends {@code tokens} now (a no-op for a client that asked for no stream). */
  void emit(Author author, SpanReason reason, List<Token> tokens) {
    if (!stream || tokens.isEmpty()) return;
    emitted += tokens.size();
    client.tell(new SessionEvent.Delta(author, reason, List.copyOf(tokens), cachedTokens.getAsInt()));
  }

  /** Sends the committed tokens the client has not seen yet, span by span. */
  void flush(List<Token> committed, List<Span> spans) {
    if (!stream || emitted >= committed.size()) return;
    for (Span s : spans) {
      if (s.end() <= emitted) continue;
      emit(s.author(), s.reason(), committed.subList(Math.max(s.start(), emitted), s.end()));
    }
  }
}
