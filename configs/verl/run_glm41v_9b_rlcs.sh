#!/usr/bin/env bash
# RLCS for GLM-4.1V-9B on verl 0.9.x: thinkvl's reward system and RLCS plug-ins, the report's settings.
# NOT RUN in this project: it needs GPUs (8 per node, vLLM rollouts). Tested here in pieces on the CPU
# (tests_verl/, `bash scripts/test_verl.sh`): the reward manager, the replay buffer against a real
# TransferQueue, and the forced-answer agent loop with a stubbed server.
#
# Data: parquet in verl's RL schema with thinkvl's fields: data_source = the domain (math, counting, chart,
# ocr, grounding, choice, ...), reward_model.ground_truth = the answer, extra_info = {id, domain, meta}.
# Offline grades: `thinkvl grade` output (JSON lines) as GRADES.
set -euo pipefail
MODEL_PATH=${MODEL_PATH:?set MODEL_PATH to a local GLM-4.1V-9B SFT checkpoint}
TRAIN_FILE=${TRAIN_FILE:?set TRAIN_FILE to the RL prompts (parquet)}
VAL_FILE=${VAL_FILE:-$TRAIN_FILE}
GRADES=${GRADES:-null}
NNODES=${NNODES:-1}
NGPUS_PER_NODE=${NGPUS_PER_NODE:-8}
OUT=${OUT:-checkpoints/glm41v_9b_rlcs}
HERE="$(cd "$(dirname "$0")/../.." && pwd)"

python3 -m verl.trainer.main_ppo \
  algorithm.adv_estimator=grpo \
  algorithm.use_kl_in_reward=false \
  data.train_files="$TRAIN_FILE" data.val_files="$VAL_FILE" \
  data.train_batch_size=256 data.gen_batch_size=8 \
  data.max_prompt_length=8192 data.max_response_length=8712 \
  data.image_key=images data.filter_overlong_prompts=true data.truncation=error \
  data.dataloader_num_workers=0 \
  data.custom_cls.path=pkg://thinkvl.integrations.verl.dataset data.custom_cls.name=RLCSDataset \
  +data.rlcs.curriculum_name=rlcs +data.rlcs.grades="$GRADES" +data.rlcs.seed=0 \
  actor_rollout_ref.model.path="$MODEL_PATH" \
  actor_rollout_ref.model.use_remove_padding=true \
  actor_rollout_ref.model.enable_gradient_checkpointing=true \
  actor_rollout_ref.actor.optim.lr=1e-6 \
  actor_rollout_ref.actor.ppo_mini_batch_size=64 \
  actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu=2 \
  actor_rollout_ref.actor.use_kl_loss=false actor_rollout_ref.actor.entropy_coeff=0 \
  actor_rollout_ref.actor.clip_ratio_low=0.2 actor_rollout_ref.actor.clip_ratio_high=0.28 \
  actor_rollout_ref.actor.loss_agg_mode=seq-mean-token-mean \
  actor_rollout_ref.rollout.name=vllm \
  actor_rollout_ref.rollout.n=8 \
  actor_rollout_ref.rollout.temperature=1.0 actor_rollout_ref.rollout.top_p=1.0 \
  actor_rollout_ref.rollout.tensor_model_parallel_size=2 \
  actor_rollout_ref.rollout.gpu_memory_utilization=0.6 \
  actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu=4 \
  actor_rollout_ref.rollout.agent.agent_loop_config_path="$HERE/configs/verl/forced_answer_agent_loop.yaml" \
  actor_rollout_ref.rollout.agent.default_agent_loop=thinkvl_forced_answer \
  actor_rollout_ref.ref.log_prob_micro_batch_size_per_gpu=4 \
  reward.reward_manager.source=importlib \
  reward.reward_manager.name=ThinkvlRewardManager \
  reward.reward_manager.module.path=pkg://thinkvl.integrations.verl.reward_manager \
  trainer.v1.trainer_mode=sync \
  trainer.v1.sampler.custom_sampler.path=pkg://thinkvl.integrations.verl.replay_buffer \
  trainer.v1.sampler.custom_sampler.name=RLCSReplayBuffer \
  +trainer.v1.sampler.sampler_kwargs.curriculum_name=rlcs \
  +trainer.v1.sampler.sampler_kwargs.gen_batch_size=8 \
  +trainer.v1.sampler.sampler_kwargs.expansion_ema_decay=0.9 \
  +trainer.v1.sampler.sampler_kwargs.expansion_cap=4.0 \
  +trainer.v1.sampler.sampler_kwargs.state_dir="$OUT/rlcs_state" \
  trainer.default_local_dir="$OUT" \
  trainer.n_gpus_per_node="$NGPUS_PER_NODE" trainer.nnodes="$NNODES" \
  trainer.save_freq=20 trainer.test_freq=10 trainer.total_epochs=1 \
  trainer.logger='["console"]' \
  "$@"
