# One image for the broker and the operator. Build: docker build -t samsa:0.1.0 .
#   broker:   node dist/broker/main.js ...   (the KafkaCluster StatefulSet runs this)
#   operator: node dist/operator/main.js ... (the Helm chart's Deployment runs this)
FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# install (honouring package-lock.json) rather than ci: see .ci/run
RUN npm install --no-audit --no-fund
COPY tsconfig.json ./
COPY broker ./broker
COPY operator ./operator
RUN npx tsc -p tsconfig.json && npm prune --omit=dev

FROM node:24-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
RUN mkdir -p /var/lib/samsa && chown node:node /var/lib/samsa
USER node
VOLUME /var/lib/samsa
EXPOSE 9092 9644
# No ENTRYPOINT: the StatefulSet and the Deployment each give their command.
CMD ["node", "dist/broker/main.js", "--host", "0.0.0.0", "--data-dir", "/var/lib/samsa"]
