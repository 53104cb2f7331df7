package io.tandem.worker;

import io.tandem.inference.LanguageModel;
import io.tandem.inference.Sequence;
import io.tandem.inference.TextTokenizer;
import io.tandem.protocol.Prompt;
import io.tandem.protocol.SamplingParams;
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
   * The prompt as this model's token ids: chat messages through its chat template (with the
   * generation prompt), raw text as it is.
   *
   * @throws IllegalArgumentException when the model cannot render it (no chat template)
   */
  int[] render(Prompt prompt);

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
      public int[] render(Prompt prompt) {
        return prompt.isChat() ? model.renderChat(prompt.messages()) : model.tokenizer().encode(prompt.raw());
      }

      @Override
      public Sequence newSequence(SamplingParams sampling) {
        return model.newSequence(sampling);
      }
    };
  }
}
