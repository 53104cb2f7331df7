package io.tandem.worker;

import io.tandem.inference.TextTokenizer;
import io.tandem.protocol.Chunk;
import io.tandem.protocol.Prompt;
import io.tandem.protocol.Token;
import io.tandem.protocol.worker.WorkerProtocol;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * The vocabulary of an engine whose tokenizer is not here ({@link EngineSpec} without {@code
 * tokenizer}): the engine's own tokenizer does the work, over HTTP ({@link EngineClient#tokenize},
 * {@link EngineClient#tokenizeChat}, {@link EngineClient#detokenize}).
 *
 * <p>The worker's actor must not block, and admission ({@link StepSync}) reads a tokenizer
 * synchronously. So before a request is admitted, {@link #prepare} asks the engine for everything
 * its admission will read (the prompt rendered with the engine's chat template, the text of every
 * chunk written in another vocabulary, the injected text and its decoded text) and the worker
 * admits it with those answers {@linkplain #use in use}: {@link #encode} and {@link #decode}
 * answer from them, and from nothing else. The text of generated tokens comes with them in the
 * engine's stream ({@link StepRun#accept(int, String)}), never from {@link #decode}.
 *
 * <p>The key is {@code openai:} plus the engine's model name: token ids pass unchanged between
 * engines serving one model name, and reach any other worker as text (the text hand-over, as
 * between two vocabularies). Not thread-safe: the worker's actor owns it.
 */
final class EngineVocabulary implements TextTokenizer {

  /**
   * The engine's answers for one request: encodings of texts and chat prompts, decodings of id
   * lists, and the injected text as tokens (null when nothing is injected).
   */
  record Prepared(Map<Object, int[]> encodings, Map<List<Integer>, String> decodings, List<Token> injection) {}

  private final String key;
  private Prepared current;

  EngineVocabulary(String model) {
    this.key = "openai:" + model;
  }

  @Override
  public String key() {
    return key;
  }

  /** Makes {@code prepared} the answers {@link #encode} and {@link #decode} give, until {@link #done}. */
  void use(Prepared prepared) {
    current = prepared;
  }

  /** Ends the use of the current answers. */
  void done() {
    current = null;
  }

  /** The injected text of the request in use, as tokens, or null when nothing was prepared. */
  List<Token> injection() {
    return current == null ? null : current.injection();
  }

  /**
   * @throws IllegalStateException when the engine was not asked for {@code text} before this
   *     admission (a bug: {@link #prepare} and {@link StepSync} disagree on what is read)
   */
  @Override
  public int[] encode(String text) {
    return encoded(text);
  }

  /** {@link #encode(String)}; with the engine's special tokens, the encoding asked for with them. */
  @Override
  public int[] encode(String text, boolean addSpecialTokens) {
    return encoded(addSpecialTokens ? withSpecials(text) : text);
  }

  /** What a text's ids with special tokens are kept under: not its own text, whose ids have none. */
  private static Object withSpecials(String text) {
    return List.of("add_special_tokens", text);
  }

  /** The chat prompt rendered with the engine's template (as its {@code chatTemplate} says), as its ids. */
  int[] encodeChat(Prompt chat) {
    return encoded(chatKey(chat));
  }

  /** What a chat prompt's ids are kept under: its messages with how they are rendered. */
  private static Object chatKey(Prompt chat) {
    return List.of(chat.messages(), chat.chatTemplate());
  }

  private int[] encoded(Object what) {
    int[] ids = current == null ? null : current.encodings().get(what);
    if (ids == null) throw new IllegalStateException("the engine's tokenizer was not asked for this text before admission");
    return ids.clone();
  }

  /** @throws IllegalStateException when the engine was not asked to decode these ids before */
  @Override
  public String decode(int[] ids) {
    String text = current == null ? null : current.decodings().get(boxed(ids));
    if (text == null) throw new IllegalStateException("the engine's tokenizer was not asked to decode these ids before admission");
    return text;
  }

  /** Unknown here; the engine's text leaves special tokens out ({@code skip_special_tokens}). */
  @Override
  public boolean isSpecial(int id) {
    return false;
  }

  /**
   * Asks the engine, all at once, for what admitting {@code g} reads: the prompt when the request
   * starts over (chat messages through the engine's template, raw text or another vocabulary's ids
   * as text), each chunk of another vocabulary as text, and the injected text (its ids, cut to
   * {@code maxTotalTokens} as {@link StepSync} cuts them, and their decoded text, which the first
   * injected token carries: the engine gives the text of the ids, not of each one).
   *
   * @return the answers; fails with an {@link EngineClient.EngineException}
   */
  CompletableFuture<Prepared> prepare(WorkerProtocol.Generate g, EngineClient client) {
    Map<Object, int[]> encodings = new java.util.concurrent.ConcurrentHashMap<>();
    List<CompletableFuture<?>> asked = new ArrayList<>();
    if (g.basePosition() == -1) asked.add(askPrompt(g.prompt(), client, encodings));
    for (Chunk c : g.append()) {
      if (!c.tokens().isEmpty() && !key.equals(c.tokenizerKey()))
        asked.add(client.tokenize(c.text()).thenAccept(ids -> encodings.put(c.text(), ids)));
    }
    String inject = g.limits().inject();
    CompletableFuture<List<Token>> injection = CompletableFuture.completedFuture(null);
    if (inject != null && !inject.isEmpty()) {
      int max = g.limits().maxTotalTokens();
      injection = client.tokenize(inject).thenCompose(ids -> {
        encodings.put(inject, ids);
        int[] kept = Arrays.copyOf(ids, Math.min(ids.length, max));
        return client.detokenize(kept).thenApply(text -> {
          List<Token> out = new ArrayList<>(kept.length);
          for (int i = 0; i < kept.length; i++) out.add(new Token(kept[i], i == 0 ? text : ""));
          return out;
        });
      });
    }
    CompletableFuture<List<Token>> injected = injection;
    return CompletableFuture.allOf(asked.toArray(CompletableFuture[]::new)).thenCombine(injected,
        (v, tokens) -> new Prepared(Map.copyOf(encodings), Map.of(), tokens));
  }

  /**
   * Asks the engine for what counting {@code c} reads ({@link StepSync#count}): the prompt's
   * rendering, or the text of its token ids.
   */
  CompletableFuture<Prepared> prepare(WorkerProtocol.CountTokens c, EngineClient client) {
    if (c.prompt() != null) {
      Map<Object, int[]> encodings = new java.util.concurrent.ConcurrentHashMap<>();
      return askPrompt(c.prompt(), client, encodings).thenApply(v -> new Prepared(Map.copyOf(encodings), Map.of(), null));
    }
    int[] ids = c.tokenIds().stream().mapToInt(Integer::intValue).toArray();
    return client.detokenize(ids).thenApply(text -> new Prepared(Map.of(), Map.of(c.tokenIds(), text), null));
  }

  private CompletableFuture<Void> askPrompt(Prompt p, EngineClient client, Map<Object, int[]> encodings) {
    if (p.isChat()) return client.tokenizeChat(p.messages(), p.chatTemplate()).thenAccept(ids -> encodings.put(chatKey(p), ids));
    if (p.tokenIds() != null && key.equals(p.tokenizerKey())) return CompletableFuture.completedFuture(null);
    return client.tokenize(p.raw(), p.addSpecialTokens())
        .thenAccept(ids -> encodings.put(p.addSpecialTokens() ? withSpecials(p.raw()) : p.raw(), ids));
  }

  private static List<Integer> boxed(int[] ids) {
    List<Integer> out = new ArrayList<>(ids.length);
    for (int id : ids) out.add(id);
    return out;
  }
}
