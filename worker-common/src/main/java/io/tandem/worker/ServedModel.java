package io.tandem.worker;

import io.tandem.inference.LanguageModel;
import io.tandem.inference.Sequence;
import io.tandem.inference.TextTokenizer;
import io.tandem.protocol.Prompt;
import io.tandem.protocol.SamplingParams;
import io.tandem.protocol.Token;
import io.tandem.inference.text.IncrementalDecoder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;

/**
 * What a worker needs of the model it serves to keep its sessions' views ({@link StepSync}):
 * its vocabulary, how it renders a prompt, its context length and a place for a sequence's tokens.
 * An in-process {@link LanguageModel} ({@link #of}) or a remote engine (the sequence then holds
 * ids only, the engine keeps the cache).
 */
interface ServedModel {

  /** A short name for logs and error messages. */
  String name();

  /** The model's tokenizer: its key says which session tokens pass without re-encoding. */
  TextTokenizer tokenizer();

  /** Token ids that end a generation. */
  Set<Integer> eosTokenIds();

  /** The longest sequence (prompt plus output) the model accepts, in tokens. */
  int contextLength();

  /**
   * Token ids this model knows are {@code [0, vocabSize)} (HF's {@code vocab_size}); 0 when it has
   * no fixed vocabulary.
   */
  int vocabSize();

  /**
   * The prompt as this model's token ids: chat messages through its chat template (as the
   * prompt's {@code chatTemplate} says), token ids of this model's vocabulary as they are, other raw text tokenized
   * (with the tokenizer's special tokens when the prompt's {@code addSpecialTokens} says so).
   *
   * @throws IllegalArgumentException when the model cannot render it (no chat template)
   */
  int[] render(Prompt prompt);

  /** {@link #render} for a model whose chat template renders messages as {@code chat} does. */
  static int[] render(Prompt prompt, TextTokenizer tokenizer, java.util.function.Function<Prompt, int[]> chat) {
    if (prompt.isChat()) return chat.apply(prompt);
    if (prompt.tokenIds() != null && prompt.tokenizerKey().equals(tokenizer.key()))
      return prompt.tokenIds().stream().mapToInt(Integer::intValue).toArray();
    return tokenizer.encode(prompt.raw(), prompt.addSpecialTokens());
  }

  /**
   * {@code text} injected after the view as this model's tokens, at most {@code max} of them (an
   * injection longer than that is cut), each with its text as {@code detok} decodes it there.
   */
  default List<Token> injection(String text, int max, IncrementalDecoder detok) {
    int[] ids = tokenizer().encode(text);
    if (ids.length > max) ids = Arrays.copyOf(ids, max);
    List<Token> out = new ArrayList<>(ids.length);
    for (int id : ids) out.add(new Token(id, detok.next(id)));
    return out;
  }

  /** A new, empty sequence sampling with {@code sampling}. */
  Sequence newSequence(SamplingParams sampling);

  /** An in-process model as a served model. */
  static ServedModel of(LanguageModel model) {
    return new ServedModel() {
      @Override
      public String name() {
        return model.name();
      }

      @Override
      public TextTokenizer tokenizer() {
        return model.tokenizer();
      }

      @Override
      public Set<Integer> eosTokenIds() {
        return model.eosTokenIds();
      }

      @Override
      public int contextLength() {
        return model.contextLength();
      }

      @Override
      public int vocabSize() {
        return model.vocabSize();
      }

      @Override
      public int[] render(Prompt prompt) {
        return ServedModel.render(prompt, model.tokenizer(), p -> model.renderChat(p.messages(), p.chatTemplate()));
      }

      @Override
      public Sequence newSequence(SamplingParams sampling) {
        return model.newSequence(sampling);
      }
    };
  }
}
