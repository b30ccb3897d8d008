/*
 * Prints the layout of every V4L2 struct internal/camera declares, as the
 * C compiler for this architecture lays it out from the kernel's uapi
 * header linux/videodev2.h: sizes, the offset of every field we use, and
 * the ioctl numbers (which encode the struct sizes). internal/camera's
 * TestLayoutMatchesC compares its Go structs with this output, built for
 * the same architecture (tools/v4l2layout/run.sh).
 */
#include <stddef.h>
#include <stdio.h>
#include <linux/videodev2.h>

#define SIZE(s) printf("sizeof %s %zu\n", #s, sizeof(struct s))
#define OFF(s, f) printf("offsetof %s.%s %zu\n", #s, #f, offsetof(struct s, f))
#define IOCTL(n) printf("ioctl %s %lu\n", #n, (unsigned long)(n))

int main(void)
{
	/* 64 on a 64-bit ABI; on 32-bit arm 32 by default, 64 with -D_TIME_BITS=64. */
	printf("timebits %zu\n", 8 * sizeof(((struct v4l2_buffer *)0)->timestamp.tv_sec));

	SIZE(v4l2_capability);
	OFF(v4l2_capability, driver);
	OFF(v4l2_capability, card);
	OFF(v4l2_capability, bus_info);
	OFF(v4l2_capability, version);
	OFF(v4l2_capability, capabilities);
	OFF(v4l2_capability, device_caps);
	OFF(v4l2_capability, reserved);

	SIZE(v4l2_pix_format);
	OFF(v4l2_pix_format, width);
	OFF(v4l2_pix_format, height);
	OFF(v4l2_pix_format, pixelformat);
	OFF(v4l2_pix_format, field);
	OFF(v4l2_pix_format, bytesperline);
	OFF(v4l2_pix_format, sizeimage);
	OFF(v4l2_pix_format, colorspace);
	OFF(v4l2_pix_format, priv);
	OFF(v4l2_pix_format, flags);
	OFF(v4l2_pix_format, ycbcr_enc);
	OFF(v4l2_pix_format, quantization);
	OFF(v4l2_pix_format, xfer_func);

	SIZE(v4l2_format);
	OFF(v4l2_format, type);
	OFF(v4l2_format, fmt);
	OFF(v4l2_format, fmt.pix);

	SIZE(v4l2_query_ext_ctrl);
	OFF(v4l2_query_ext_ctrl, id);
	OFF(v4l2_query_ext_ctrl, type);
	OFF(v4l2_query_ext_ctrl, name);
	OFF(v4l2_query_ext_ctrl, minimum);
	OFF(v4l2_query_ext_ctrl, maximum);
	OFF(v4l2_query_ext_ctrl, step);
	OFF(v4l2_query_ext_ctrl, default_value);
	OFF(v4l2_query_ext_ctrl, flags);
	OFF(v4l2_query_ext_ctrl, elem_size);
	OFF(v4l2_query_ext_ctrl, elems);
	OFF(v4l2_query_ext_ctrl, nr_of_dims);
	OFF(v4l2_query_ext_ctrl, dims);
	OFF(v4l2_query_ext_ctrl, reserved);

	SIZE(v4l2_querymenu);
	OFF(v4l2_querymenu, id);
	OFF(v4l2_querymenu, index);
	OFF(v4l2_querymenu, name);
	OFF(v4l2_querymenu, value);
	OFF(v4l2_querymenu, reserved);

	SIZE(v4l2_requestbuffers);
	OFF(v4l2_requestbuffers, count);
	OFF(v4l2_requestbuffers, type);
	OFF(v4l2_requestbuffers, memory);
	OFF(v4l2_requestbuffers, capabilities);
	OFF(v4l2_requestbuffers, flags);
	OFF(v4l2_requestbuffers, reserved);

	SIZE(v4l2_timecode);
	OFF(v4l2_timecode, type);
	OFF(v4l2_timecode, flags);
	OFF(v4l2_timecode, frames);
	OFF(v4l2_timecode, seconds);
	OFF(v4l2_timecode, minutes);
	OFF(v4l2_timecode, hours);
	OFF(v4l2_timecode, userbits);

	SIZE(v4l2_buffer);
	OFF(v4l2_buffer, index);
	OFF(v4l2_buffer, type);
	OFF(v4l2_buffer, bytesused);
	OFF(v4l2_buffer, flags);
	OFF(v4l2_buffer, field);
	OFF(v4l2_buffer, timestamp);
	OFF(v4l2_buffer, timestamp.tv_usec);
	OFF(v4l2_buffer, timecode);
	OFF(v4l2_buffer, sequence);
	OFF(v4l2_buffer, memory);
	OFF(v4l2_buffer, m);
	OFF(v4l2_buffer, length);
	OFF(v4l2_buffer, reserved2);
	OFF(v4l2_buffer, request_fd);

	SIZE(v4l2_streamparm);
	OFF(v4l2_streamparm, type);
	OFF(v4l2_streamparm, parm);
	OFF(v4l2_streamparm, parm.capture);
	SIZE(v4l2_captureparm);
	OFF(v4l2_captureparm, capability);
	OFF(v4l2_captureparm, capturemode);
	OFF(v4l2_captureparm, timeperframe);
	OFF(v4l2_captureparm, timeperframe.denominator);
	OFF(v4l2_captureparm, extendedmode);
	OFF(v4l2_captureparm, readbuffers);
	OFF(v4l2_captureparm, reserved);

	SIZE(v4l2_control);
	OFF(v4l2_control, id);
	OFF(v4l2_control, value);

	IOCTL(VIDIOC_QUERYCAP);
	IOCTL(VIDIOC_G_FMT);
	IOCTL(VIDIOC_S_FMT);
	IOCTL(VIDIOC_G_PARM);
	IOCTL(VIDIOC_S_PARM);
	IOCTL(VIDIOC_G_CTRL);
	IOCTL(VIDIOC_S_CTRL);
	IOCTL(VIDIOC_REQBUFS);
	IOCTL(VIDIOC_QUERYBUF);
	IOCTL(VIDIOC_QBUF);
	IOCTL(VIDIOC_DQBUF);
	IOCTL(VIDIOC_STREAMON);
	IOCTL(VIDIOC_STREAMOFF);
	IOCTL(VIDIOC_QUERYMENU);
	IOCTL(VIDIOC_QUERY_EXT_CTRL);
	return 0;
}
