/* console.h - `ssltunneld connect HOST`: log in, then open tunnels from a
 * prompt, as node-websocket-tunnel's connect.js */
#ifndef SSLTUNNEL_CONSOLE_H
#define SSLTUNNEL_CONSOLE_H

/** @brief Run the console with the arguments after "connect" (@argv[0]
 *  is "connect"); returns the process exit status. */
int console_main(int argc, char **argv);

#endif
