#ifndef SCALEKIT_CFFMPEG_SHIM_H
#define SCALEKIT_CFFMPEG_SHIM_H

// FFmpeg 5.1 (libavformat 59, libavcodec 59, libswresample 4, libavutil 57).
#include <errno.h>
#include <libavformat/avformat.h>
#include <libavcodec/avcodec.h>
#include <libswresample/swresample.h>
#include <libavutil/audio_fifo.h>
#include <libavutil/channel_layout.h>
#include <libavutil/error.h>
#include <libavutil/log.h>
#include <libavutil/mathematics.h>
#include <libavutil/opt.h>
#include <libavutil/samplefmt.h>

// Function-like macros and compound literals Swift cannot import, wrapped
// under a scalekit_ prefix.

static inline int scalekit_averror(int posix_error) { return AVERROR(posix_error); }
static inline int scalekit_averror_eof(void) { return AVERROR_EOF; }
static inline int scalekit_averror_eagain(void) { return AVERROR(EAGAIN); }
static inline int scalekit_averror_invaliddata(void) { return AVERROR_INVALIDDATA; }
static inline int64_t scalekit_av_nopts_value(void) { return AV_NOPTS_VALUE; }
static inline AVRational scalekit_av_time_base_q(void) { return AV_TIME_BASE_Q; }

static inline AVChannelLayout scalekit_channel_layout_mono(void) {
    AVChannelLayout layout = AV_CHANNEL_LAYOUT_MONO;
    return layout;
}

static inline AVChannelLayout scalekit_channel_layout_stereo(void) {
    AVChannelLayout layout = AV_CHANNEL_LAYOUT_STEREO;
    return layout;
}

#endif
