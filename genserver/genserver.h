/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#define __GENSERVER_INSIDE__

#include <genserver/gen-version.h>
#include <genserver/gen-enums.h>
#include <genserver/gen-reply.h>
#include <genserver/gen-scheduler.h>
#include <genserver/gen-server.h>
#include <genserver/gen-registry.h>
#include <genserver/gen-child-spec.h>
#include <genserver/gen-supervisor.h>
#include <genserver/gen-statem.h>
#include <genserver/gen-link.h>
#include <genserver/gen-request.h>
#include <genserver/gen-group.h>
#include <genserver/gen-start.h>
#include <genserver/gen-export.h>
#include <genserver/gen-dbus-listener.h>
#include <genserver/gen-remote.h>
#include <genserver/gen-observer.h>
#include <genserver/gen-node.h>
#include <genserver/gen-gjs.h>

#undef __GENSERVER_INSIDE__
