package io.tandem.orchestrator.session;

import akka.actor.typed.ActorRef;
import io.tandem.protocol.Author;
import io.tandem.protocol.Chunk;
import io.tandem.protocol.Role;
import io.tandem.protocol.Span;
import io.tandem.protocol.SpanReason;
import io.tandem.protocol.Token;
import io.tandem.protocol.worker.WorkerProtocol;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * The session's half of the delta/position sync protocol ({@link WorkerProtocol}): per role, the
 * worker the session is bound to and what that worker holds of the session, so that each request
 * carries only what the worker has not seen (from the longest prefix it holds that still matches
 * the committed output), each chunk in the vocabulary of the model that wrote it.
 */
final class SyncEncoder {

  /** What one worker holds of this session, as far as the session knows. */
  static final class Binding {
    ActorRef<WorkerProtocol.Command> worker;
    /** Tokens after the prompt the worker holds; -1: nothing, not even the prompt. */
    int known = -1;
    final List<Token> view = new ArrayList<>();
    /** The role's workers in this session's order of preference (see {@link Affinity}). */
    List<ActorRef<WorkerProtocol.Command>> ranked = List.of();

    private void forget() {
      known = -1;
      view.clear();
    }
  }

  /** Where a request starts ({@code base}: -1 sends the prompt too) and what it appends. */
  record Delta(int base, List<Chunk> append) {}

  private final Map<Role, Binding> bindings = new EnumMap<>(Role.class);
  /** Each role's tokenizer key, as its workers report it (null until the first reply). */
  private final Map<Role, String> keys = new EnumMap<>(Role.class);

  SyncEncoder() {
    for (Role r : Role.values()) bindings.put(r, new Binding());
  }

  Binding binding(Role role) {
    return bindings.get(role);
  }

  /** The pairs of two vocabularies warned of in this process (once each is enough). */
  private static final Set<String> MIXED_WARNED = java.util.concurrent.ConcurrentHashMap.newKeySet();

  /** A worker of {@code role} says its tokens are in vocabulary {@code key}. */
  void tokenizerKey(Role role, String key) {
    if (key == null) return;
    keys.put(role, key);
    String small = keys.get(Role.small);
    String large = keys.get(Role.large);
    // The hand-over works in text (each chunk is re-read by a model of another vocabulary), so answers
    // read right; but an answer's token ids are each writer's own, which an API client cannot tell apart.
    if (small == null || large == null || small.equals(large) || !MIXED_WARNED.add(small + " " + large)) return;
    String consequence = "the text each writes is handed to the other as text, so answers read right, but token ids in"
        + " answers (return_token_ids, stop_token_ids, stop_reason) are each writer's own, ";
    // An engine without a tokenizer folder is known only by its model name: whether it shares the
    // other's vocabulary cannot be told (tester45c read "files differ" of one demo tokenizer twice).
    if (small.startsWith(ENGINE_KEY) || large.startsWith(ENGINE_KEY))
      org.slf4j.LoggerFactory.getLogger(SyncEncoder.class).warn("whether the small and large models share a vocabulary"
          + " cannot be told ({} and {}: an engine spec without tokenizer=DIR is known by its model name alone): "
          + consequence + "perhaps of two vocabularies in one answer; give the engine spec tokenizer=DIR (its model's"
          + " Hugging Face folder) where clients use token ids", shortKey(small), shortKey(large));
    else
      org.slf4j.LoggerFactory.getLogger(SyncEncoder.class).warn("the small and large models have different vocabularies"
          + " (their tokenizer.json files differ: {} and {}): " + consequence + "two vocabularies mixed in one answer;"
          + " serve a pair that shares a tokenizer (as the paper's DeepSeek-R1-Distill-Qwen 1.5B and 32B do) where"
          + " clients use token ids", shortKey(small), shortKey(large));
  }

  /** How the tokenizer key of an engine without a tokenizer folder begins ({@code EngineVocabulary}: its model's name). */
  private static final String ENGINE_KEY = "openai:";

  /** A tokenizer key as a log line shows it: its first 12 hex digits. */
  private static String shortKey(String key) {
    return key.length() > 19 ? key.substring(0, 19) : key;
  }

  String tokenizerKey(Role role) {
    return keys.get(role);
  }

  /** Binds {@code role} to {@code worker}; a different worker than before holds nothing yet. */
  void bind(Role role, ActorRef<WorkerProtocol.Command> worker) {
    Binding b = bindings.get(role);
    if (b.worker != null && !b.worker.equals(worker)) b.forget();
    b.worker = worker;
  }

  /** The role {@code worker} is bound for; null when it is bound for none. */
  Role roleOf(ActorRef<WorkerProtocol.Command> worker) {
    for (Map.Entry<Role, Binding> e : bindings.entrySet()) if (worker.equals(e.getValue().worker)) return e.getKey();
    return null;
  }

  /** {@code worker} is gone: no binding points at it any more. */
  void unbind(ActorRef<WorkerProtocol.Command> worker) {
    for (Binding b : bindings.values()) {
      if (worker.equals(b.worker)) {
        b.worker = null;
        b.forget();
      }
    }
  }

  /**
   * What {@code role}'s worker needs to continue from the first {@code target} tokens of
   * {@code committed} (written as {@code spans} say), followed by {@code carried} (tokens in the
   * role's own vocabulary that a lost worker already produced for this step).
   */
  Delta delta(Role role, List<Token> committed, List<Span> spans, int target, List<Token> carried) {
    Binding b = bindings.get(role);
    int base = b.known < 0 ? -1 : Math.min(commonPrefix(b.view, committed, b.known), target);
    List<Chunk> append = new ArrayList<>(chunks(committed, spans, Math.max(0, base), target));
    if (!carried.isEmpty()) append.add(new Chunk(keys.get(role), carried));
    return new Delta(base, append);
  }

  /** {@code role}'s worker finished a step: it now holds {@code prefix}, then {@code injected} and {@code generated}. */
  void done(Role role, List<Token> prefix, List<Token> injected, List<Token> generated) {
    Binding b = bindings.get(role);
    b.view.clear();
    b.view.addAll(prefix);
    b.view.addAll(injected);
    b.view.addAll(generated);
    b.known = b.view.size();
  }

  /** {@code role}'s worker holds only {@code havePosition} tokens (-1: nothing). */
  void resync(Role role, int havePosition) {
    Binding b = bindings.get(role);
    b.known = havePosition;
    if (b.known < 0) b.view.clear();
    else if (b.view.size() > b.known) b.view.subList(b.known, b.view.size()).clear();
  }

  private static int commonPrefix(List<Token> a, List<Token> b, int limit) {
    int n = Math.min(Math.min(a.size(), b.size()), limit);
    int i = 0;
    while (i < n && a.get(i).equals(b.get(i))) i++;
    return i;
  }

  /** The committed tokens [from, to) as chunks, each in the vocabulary of the model that wrote it. */
  private List<Chunk> chunks(List<Token> committed, List<Span> spans, int from, int to) {
    if (from >= to) return List.of();
    List<Chunk> out = new ArrayList<>();
    String runKey = null;
    int runStart = from;
    for (int pos = from; pos < to; pos++) {
      String key = keyAt(spans, pos);
      if (pos > from && !Objects.equals(key, runKey)) {
        out.add(new Chunk(runKey, committed.subList(runStart, pos)));
        runStart = pos;
      }
      runKey = key;
    }
    out.add(new Chunk(runKey, committed.subList(runStart, to)));
    return out;
  }

  private String keyAt(List<Span> spans, int pos) {
    for (Span s : spans) {
      if (pos >= s.start() && pos < s.end()) return keys.get(writer(s.author(), s.reason()));
    }
    return null;
  }

  /** The role whose tokenizer produced tokens of {@code author}. */
  private static Role writer(Author author, SpanReason reason) {
    return switch (author) {
      case small -> Role.small;
      case large -> Role.large;
      // Injected words were tokenized by the worker that went on after them.
      case injected -> reason == SpanReason.think ? Role.small : Role.large;
    };
  }
}
